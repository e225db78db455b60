package driver

import (
	"os"
	"slices"
	"testing"
)

// Every pack gets a config, paired by index: the engine's flag drops an
// empty one, which would pair the next config with the wrong pack.
func TestPackConfigs(t *testing.T) {
	for _, tc := range []struct {
		packs, configs, want []string
	}{
		{[]string{"own", "other"}, []string{"own.json"}, []string{"own.json", os.DevNull}},
		{[]string{"own", "other"}, []string{"", "other.json"}, []string{os.DevNull, "other.json"}},
		{nil, nil, []string{}},
	} {
		if got := packConfigs(Options{PolicyPacks: tc.packs, PolicyPackConfigs: tc.configs}); !slices.Equal(got, tc.want) {
			t.Errorf("packs %v, configs %q: got %q, want %q", tc.packs, tc.configs, got, tc.want)
		}
	}
}
