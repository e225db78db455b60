package imagecontract

import (
	"slices"
	"testing"
)

func TestPrograms(t *testing.T) {
	tests := []struct {
		name, script string
		want         []string
	}{
		{"simple", "cp -R /a/. /b/ && cp /s/x /b/x", []string{"cp"}},
		{"keywords and builtins", `until [ "$(cat /proc/sys/vm/max_map_count)" -ge 262144 ]; do echo "waiting (node-tuning)"; sleep 5; done`,
			[]string{"cat", "sleep"}},
		{"variables the script assigns", "set -eu\nbin=/opt/kafka/bin\nuntil $bin/kafka-topics.sh --list >/dev/null; do sleep 5; done\n" +
			"current=$($bin/kafka-topics.sh --describe | sed -n 's/x/y/p' | head -n 1)\n",
			[]string{"/opt/kafka/bin/kafka-topics.sh", "sleep", "sed", "head"}},
		{"array assignments and quotes", "opts=(-sS --fail-with-body -H 'Content-Type: application/json')\nopts+=(-u \"elastic:${P}\" --cacert /c/ca.crt)\n" +
			`until curl "${opts[@]}" -o /dev/null "$ES_URL/_cluster/health"; do sleep 5; done` + "\n" +
			`curl "${opts[@]}" -X PUT "$ES_URL/x" -d '{"a":"b; c | d"}'`,
			[]string{"curl", "sleep"}},
		{"continued lines and comments", "# start\n/opt/kafka/bin/kafka-topics.sh --create \\\n  --partitions 3 # a comment; rm -rf /\n", []string{"/opt/kafka/bin/kafka-topics.sh"}},
		{"background and or", "trap 'exit 0' TERM; while true; do sleep 3600 & wait $!; done", []string{"sleep"}},
		{"a program inside a string is not called", `echo "run curl now"; [ -e /m ] || touch /m`, []string{"touch"}},
		{"redirections", "echo x >&2; grep -q y /f 2>&1 && cat /g &>/dev/null", []string{"grep", "cat"}},
		{"exec and negation", `if ! grep -q x /f; then exec /bin/server; fi`, []string{"grep", "/bin/server"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Programs(tt.script); !slices.Equal(got, tt.want) {
				t.Errorf("Programs = %q, want %q", got, tt.want)
			}
		})
	}
}
