package main

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/version"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate"
)

// newSipgateClient is the client of the configured account: with conns
// connections kept, and the request durations observed when duration is
// not nil. Every request to sipgate, of the service and of the commands,
// goes through one.
func newSipgateClient(s config.Sipgate, conns int, duration *prometheus.HistogramVec) *sipgate.Client {
	user, password := s.Credentials()
	return sipgate.New(sipgate.Options{
		BaseURL:    s.URL,
		SMSID:      s.SMSID,
		Username:   user,
		Password:   password.Value(),
		HTTPClient: &http.Client{Timeout: time.Duration(s.Timeout), Transport: sipgate.NewTransport(conns)},
		UserAgent:  name + "/" + version.Version,
		Duration:   duration,
	})
}
