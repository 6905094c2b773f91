package metrics

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRegisterDeferredHeld(t *testing.T) {
	for _, held := range []int{0, 3} {
		t.Run(fmt.Sprint(held), func(t *testing.T) {
			reg := prometheus.NewRegistry()
			RegisterDeferredHeld(reg, func() int { return held })
			want := fmt.Sprintf(`# HELP alertmanager_sipgate_deferred_held SMS that quiet hours hold until they end, one per recipient and end.
# TYPE alertmanager_sipgate_deferred_held gauge
alertmanager_sipgate_deferred_held %d
`, held)
			if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
				t.Error(err)
			}
		})
	}
}
