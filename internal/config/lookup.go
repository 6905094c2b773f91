package config

import "fmt"

// Lookup finds one recipient by a contact's name or an E.164 number, as a
// route's to: does, for a command that sends to one person (send-test).
// A group or schedule names more than one, or someone only at a time, so
// it is refused with what to give instead.
func (c *Config) Lookup(name string) (Recipient, error) {
	if contact, ok := c.Contacts[name]; ok {
		return Recipient{Name: name, Number: contact.Number}, nil
	}
	if phonePattern.MatchString(name) {
		return Recipient{Number: name}, nil
	}
	if _, ok := c.Groups[name]; ok {
		return Recipient{}, fmt.Errorf("%q is a group: give one of its contacts, or a number", name)
	}
	if _, ok := c.Schedules[name]; ok {
		return Recipient{}, fmt.Errorf("%q is a schedule: give one of its contacts, or a number (the oncall command says who is on call)", name)
	}
	return Recipient{}, fmt.Errorf("unknown contact %q and not an E.164 number (+4915112345678)%s", name, suggest(name, sortedKeys(c.Contacts)))
}
