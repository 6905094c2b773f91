package delivery

import (
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/phone"
)

// Event is how the delivery of one SMS ended, as Options.Observe is told
// it: for a status page of the recent deliveries. It carries no text and
// only the masked number, so that whoever keeps events keeps nothing the
// log would not show.
type Event struct {
	At time.Time
	// Notification is the notification's id, as on its log lines.
	Notification string
	// Route is the message's route, "digest" for a digest, HeldRoute for
	// the SMS at the end of quiet hours.
	Route   string
	Contact string
	// Number is masked (phone.Mask).
	Number  string
	Outcome Outcome
	// Reason says in a word why a failed or unknown send failed, as the
	// "reason" label does; "" otherwise.
	Reason string
}

// observe tells Options.Observe, when set, how the delivery of an SMS
// to number ended.
func (d *Deliverer) observe(id, route, contact, number string, outcome Outcome, err error) {
	if d.o.Observe == nil {
		return
	}
	e := Event{
		At: d.o.Clock.Now(), Notification: id, Route: route, Contact: contact,
		Number: phone.Mask(number), Outcome: outcome,
	}
	if err != nil && (outcome.failed() || outcome == Unknown || outcome == GivenUp) {
		e.Reason = reason(err)
	}
	d.o.Observe(e)
}
