package sipgate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"strings"
)

// maxAccountAnswer bounds the body of an account answer: a few short
// fields, with room to spare.
const maxAccountAnswer = 64 << 10

// currencyPattern is an ISO 4217 code. The currency becomes a metric
// label, so anything else sipgate might answer is refused rather than
// exported.
var currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)

// Userinfo is the account behind the credentials, as GET
// /authorization/userinfo describes it (field names of sipgate's Node.js
// client, sipgateio-node, and of its OpenAPI description).
type Userinfo struct {
	Sub         string `json:"sub"` // the web user, such as w0
	Domain      string `json:"domain"`
	MasterSipID string `json:"masterSipId"`
	Locale      string `json:"locale"`
}

// Userinfo asks sipgate who the credentials belong to: the cheapest call
// that tells accepted credentials from rejected ones. A 401 means they
// are wrong; a 403 that the token may not read the account.
//
// Failures are an *Error with Op OpUserinfo, or wrap ctx.Err() when ctx
// ends first.
func (c *Client) Userinfo(ctx context.Context) (Userinfo, error) {
	var u Userinfo
	err := c.get(ctx, OpUserinfo, "/authorization/userinfo", func(body io.Reader) error {
		return decodeAccount(body, &u)
	})
	return u, err
}

// Balance is the account's credit.
type Balance struct {
	// Amount is in ten-thousandths of Currency, as sipgate counts it:
	// 123400 is 12.34 EUR.
	Amount   int64
	Currency string // ISO 4217, such as EUR
}

// Units is the amount in the currency's units: 12.34 for 123400.
func (b Balance) Units() float64 { return float64(b.Amount) / 10000 }

// balanceAnswer is GET /balance's answer. The amount is read as a number
// of any form, since sipgate's description types it as an integer but a
// JSON encoder may write 123400.0.
type balanceAnswer struct {
	Amount   *json.Number `json:"amount"`
	Currency string       `json:"currency"`
}

// Balance reads the account's balance (GET /balance). A 403 means the
// token lacks the scope to read it.
//
// Failures are an *Error with Op OpBalance, also for a 2xx answer without
// an amount or an ISO 4217 currency, or wrap ctx.Err() when ctx ends
// first.
func (c *Client) Balance(ctx context.Context) (Balance, error) {
	var b Balance
	err := c.get(ctx, OpBalance, "/balance", func(body io.Reader) error {
		var a balanceAnswer
		if err := decodeAccount(body, &a); err != nil {
			return err
		}
		var err error
		b, err = a.balance()
		return err
	})
	return b, err
}

// balance checks the answer and turns it into a Balance.
func (a balanceAnswer) balance() (Balance, error) {
	if a.Amount == nil {
		return Balance{}, errors.New("the balance answer has no amount")
	}
	if !currencyPattern.MatchString(a.Currency) {
		return Balance{}, fmt.Errorf("the balance answer has no ISO 4217 currency: %.10q", a.Currency)
	}
	amount, err := a.Amount.Int64()
	if err != nil {
		f, ferr := a.Amount.Float64()
		// ±2^53 keeps every ten-thousandth exact in a float64, and is
		// far beyond any account's balance.
		if ferr != nil || math.Abs(f) > 1<<53 {
			return Balance{}, fmt.Errorf("the balance answer's amount %.20s is not a number of ten-thousandths", a.Amount.String())
		}
		amount = int64(math.Round(f))
	}
	return Balance{Amount: amount, Currency: a.Currency}, nil
}

// get asks sipgate for path below the base URL and hands a 2xx answer's
// body to read. A failure is an *Error with op, or ctx.Err() wrapped.
func (c *Client) get(ctx context.Context, op, path string, read func(io.Reader) error) error {
	if c.badURL != nil {
		return &Error{Op: op, Err: c.badURL}
	}
	err := c.do(ctx, call{op: op, method: http.MethodGet, url: strings.TrimRight(c.o.BaseURL, "/") + path, read: read})
	if err != nil && err == ctx.Err() {
		return fmt.Errorf("sipgate: %s: %w", op, err)
	}
	return err
}

// decodeAccount decodes one JSON object of a bounded account answer into v.
func decodeAccount(body io.Reader, v any) error {
	if err := json.NewDecoder(io.LimitReader(body, maxAccountAnswer)).Decode(v); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	return nil
}
