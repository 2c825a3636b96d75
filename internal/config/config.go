// Package config is kinsight's one YAML configuration model: the types, their
// defaults, strict decoding (unknown keys are errors) and validation whose
// every error names the YAML key it is about.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// Config is the whole file. Every section is optional; Default fills what is
// left out.
type Config struct {
	// Server configures `kinsight server` (and the server half of `kinsight up`).
	Server Server `yaml:"server"`
	// Agent configures `kinsight agent` (and the agent half of `kinsight up`).
	Agent Agent `yaml:"agent"`
	// Log configures kinsight's own diagnostic logging.
	Log Log `yaml:"log"`
}

// Log configures kinsight's own slog output.
type Log struct {
	// Level is debug, info, warn or error. Default: info.
	Level string `yaml:"level"`
	// Format is text or json. Default: text.
	Format string `yaml:"format"`
}

// Default returns a configuration with every default filled in.
func Default() Config {
	return Config{
		Server: DefaultServer(),
		Agent:  DefaultAgent(),
		Log:    Log{Level: "info", Format: "text"},
	}
}

// Validate checks every section and joins all problems found.
func (c *Config) Validate() error {
	return errors.Join(c.Server.Validate("server"), c.Agent.Validate("agent"), c.Log.Validate("log"))
}

// Validate checks the log section.
func (l *Log) Validate(key string) error {
	var errs []error
	switch l.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("%s.level must be one of debug, info, warn, error (got %q)", key, l.Level))
	}
	switch l.Format {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("%s.format must be text or json (got %q)", key, l.Format))
	}
	return errors.Join(errs...)
}

// Load reads and validates a configuration file. An empty path gives the
// defaults.
func Load(path string) (Config, error) {
	if path == "" {
		c := Default()
		return c, c.Validate()
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	c, err := Parse(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse decodes YAML over the defaults, rejecting unknown keys, then
// validates.
func Parse(data []byte) (Config, error) {
	c := Default()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Duration is a time.Duration written as "10s", "5m" in YAML.
type Duration time.Duration

// UnmarshalYAML accepts Go duration strings, and Prometheus's (which add
// d, w and y units: "15d", as Prometheus users write retentions).
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		pv, perr := model.ParseDuration(s)
		if perr != nil {
			// A TypeError lets the decoder go on and report every bad value.
			return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: invalid duration %q (use durations such as 10s, 5m, 15d)", n.Line, s)}}
		}
		v = time.Duration(pv)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }
