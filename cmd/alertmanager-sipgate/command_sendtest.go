package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/alecthomas/kingpin/v2"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/phone"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sms"
)

// defaultTestMessage is the text of a test SMS unless --message says.
const defaultTestMessage = "Test SMS from alertmanager-sipgate: paging by SMS works."

// sendTestCommand sends one SMS through the configured account and says
// what sipgate answered, in the words of the client's classification: the
// quickest way to learn whether credentials, scope, SMS extension and
// balance are right before an alert depends on them.
func sendTestCommand(app *kingpin.Application) (*kingpin.CmdClause, action) {
	cmd := app.Command("send-test", "Send one real SMS through the configured sipgate account and say what sipgate answered. A dry-run config sends nothing.")
	configFile := cmd.Flag("config.file", "Configuration file; without it, the embedded dry-run config.").String()
	to := cmd.Flag("to", "A contact of the config, or an E.164 number (+4915112345678).").Required().String()
	message := cmd.Flag("message", "The text to send.").Default(defaultTestMessage).String()
	return cmd, func(c *cli) int {
		cfg, err := loadConfig(*configFile)
		if err != nil {
			fmt.Fprintln(c.stderr, err)
			return 1
		}
		if err := sendTest(c.stdout, cfg, *to, *message); err != nil {
			fmt.Fprintln(c.stderr, "send-test:", err)
			return 1
		}
		return 0
	}
}

// sendTest sends text to the contact or number to, and tells w how it
// went. Its error says why nothing could be sent, or what sipgate
// answered.
func sendTest(w io.Writer, cfg *config.Config, to, text string) error {
	r, err := cfg.Lookup(to)
	if err != nil {
		return err
	}
	text = sipgate.Printable(text)
	if strings.TrimSpace(text) == "" {
		return errors.New("the message is empty: sipgate refuses empty SMS")
	}
	who := fmt.Sprintf("%s (%s)", r.Label(), phone.Mask(r.Number))
	s := cfg.Sipgate
	size := sms.Measure(text)
	if s.DryRun {
		fmt.Fprintf(w, "Dry run (sipgate.dry_run: true in %s): nothing sent. To %s, %s, %s:\n  | %s\n",
			cfg.File, who, size.Encoding, count(size.Segments, "segment", "segments"), text)
		return nil
	}
	user, _ := s.Credentials()
	fmt.Fprintf(w, "Sending to %s through %s as %s, SMS extension %s: %s, %s, %s\n  | %s\n",
		who, s.URL, user, s.SMSID, size.Encoding, count(utf8.RuneCountInString(text), "character", "characters"),
		count(size.Segments, "segment", "segments"), text)
	// One request, no retry: the answer is what the operator wants to see.
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(s.Timeout)+time.Second)
	defer cancel()
	if err := newSipgateClient(s, 1, nil).SendSMS(ctx, sipgate.SMS{Recipient: r.Number, Message: text}); err != nil {
		fmt.Fprintln(w, "sipgate did not take the SMS:", err)
		fmt.Fprintln(w, "What to do:", advice(err))
		return fmt.Errorf("send SMS to %s: %w", r.Label(), err)
	}
	fmt.Fprintln(w, "sipgate accepted the SMS. It does not confirm delivery to the phone: check that it arrived.")
	return nil
}

// advice says what the operator can do about a failed send, from what the
// client's error says of itself.
func advice(err error) string {
	var (
		unknown interface{ Unknown() bool }
		reason  interface{ Reason() string }
	)
	if errors.As(err, &unknown) && unknown.Unknown() {
		return "the request went out but no answer came: sipgate may have sent the SMS; check the phone before sending again."
	}
	if !errors.As(err, &reason) {
		return "no answer from sipgate in time: check the network and sipgate.timeout."
	}
	switch reason.Reason() {
	case "auth":
		return "check sipgate.token_id and token (or username and password); a token needs the scope sessions:sms:write, " +
			"and sipgate.sms_id must be an SMS extension of the account with SMS booked (Connections -> SMS in the web app)."
	case "balance":
		return "top up the sipgate account."
	case "rate_limited":
		return "sipgate limits how often it is called: try again later."
	case "server":
		return "sipgate has a problem of its own: try again later."
	case "transport":
		return "no answer from sipgate: check the network, DNS and proxy on the way to sipgate.url."
	default:
		return "sipgate refused the request as it is: check sipgate.url, sipgate.sms_id and the number."
	}
}
