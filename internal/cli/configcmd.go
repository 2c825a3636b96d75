package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/kinsight/kinsight/internal/config"
)

func newConfigCmd(env *Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Work with kinsight configuration files",
	}
	cmd.AddCommand(newConfigCheckCmd(env))
	return cmd
}

func newConfigCheckCmd(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:   "check FILE...",
		Short: "Validate configuration files",
		Long: `Load each FILE the way the server does and report every problem.

A valid file prints "FILE: ok" on stdout. An invalid one prints each problem on
its own line on stderr, "FILE: KEY…", naming the YAML key (unknown keys are
errors, so typos do not pass silently), and the command exits 1.`,
		Example: `  kinsight config check /etc/kinsight/kinsight.yaml`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			failed := false
			for _, path := range args {
				_, err := config.Load(path)
				if err == nil {
					fmt.Fprintf(env.Stdout, "%s: ok\n", path)
					continue
				}
				failed = true
				var pe *fs.PathError
				if errors.As(err, &pe) {
					// The path is printed in front already.
					fmt.Fprintf(env.Stderr, "%s: %v\n", path, pe.Err)
					continue
				}
				data, _ := os.ReadFile(path) // only to name keys; Load reported any read error
				for _, msg := range configErrorLines(path, err, data) {
					fmt.Fprintf(env.Stderr, "%s: %s\n", path, msg)
				}
			}
			if failed {
				return errSilent
			}
			return nil
		},
	}
}

// yamlLineRE finds the line number yaml.v3 and config's own decoders put in
// front of their messages.
var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)

// configErrorLines splits what config.Load returned into one message per
// problem: validation errors are joined with newlines, and yaml.v3 lists
// its type errors under a header line. A message that points at a line but
// not at a key (a bad value, an unknown key, a syntax error) gets the key
// path found at that line in data put in front, so every line names a key.
func configErrorLines(path string, err error, data []byte) []string {
	msg := strings.TrimPrefix(err.Error(), path+": ")
	keys := keysByLine(data)
	var out []string
	for _, line := range strings.Split(msg, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line == "yaml: unmarshal errors:" {
			continue
		}
		if m := yamlLineRE.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			if key := keys[n]; key != "" && !strings.Contains(line, key) {
				line = key + ": " + line
			}
		}
		out = append(out, line)
	}
	if len(out) == 0 {
		out = append(out, "invalid configuration")
	}
	return out
}

// keysByLine maps each line of a YAML document that holds a key or a
// sequence item to its dotted path (server.auth.access_keys[0].role). When
// several share a line the deepest wins, the one an error on that line is
// most likely about. Unparsable YAML gives an empty map.
func keysByLine(data []byte) map[int]string {
	keys := map[int]string{}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return keys
	}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				keys[k.Line] = p
				if v.Line != k.Line {
					keys[v.Line] = p
				}
				walk(v, p)
				if v.Style&yaml.FlowStyle != 0 && v.Line == k.Line {
					// region: [a, b] — an error on this line is about the
					// key, not the first item.
					keys[k.Line] = p
				}
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				keys[c.Line] = p
				walk(c, p)
			}
		}
	}
	walk(&doc, "")
	return keys
}
