package cloudwatch

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"
)

// Compression values for Config.Compression.
const (
	CompressionAuto = "auto"
	CompressionGzip = "gzip"
	CompressionZstd = "zstd"
	CompressionNone = "none"
)

// Config configures the CloudWatch Logs output.
type Config struct {
	// Endpoint is the base URL of a kinsight server
	// (http://kinsight:8470). Empty means AWS CloudWatch Logs in Region.
	// Default: empty.
	Endpoint string `yaml:"endpoint"`
	// Region is the AWS region signed into requests. Empty takes the
	// standard chain's region (AWS_REGION, shared config), or us-east-1 when
	// Endpoint is set. Default: empty.
	Region string `yaml:"region"`
	// AccessKeyID and SecretAccessKey are a static key pair. Set both or
	// neither; with neither, the standard credential chain is used
	// (environment, IRSA web identity, shared files, ECS/EC2 roles).
	// Default: empty.
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey string `yaml:"secret_access_key"`
	// Compression of request bodies: auto, gzip, zstd or none. AWS itself
	// accepts none. auto is S2 (Content-Encoding x-kinsight-s2) with an
	// Endpoint, falling back to zstd for good if the server refuses S2 (a
	// kinsight server from before it), and none for AWS. Default: auto.
	Compression string `yaml:"compression"`
	// MaxRetries is how many times a failed batch is retried before Send
	// gives up (0: never). Default: 10.
	MaxRetries int `yaml:"max_retries"`
	// RetryBase is the first backoff ceiling; it doubles per retry up to
	// RetryMax, and the wait is uniformly random below it. Default: 200ms.
	RetryBase time.Duration `yaml:"retry_base"`
	// RetryMax caps the backoff ceiling. Default: 30s.
	RetryMax time.Duration `yaml:"retry_max"`
	// RequestTimeout bounds one attempt (a hung connection is retried, not
	// waited on forever). Default: 30s.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// LogGroupClass is set on groups the output creates: STANDARD or
	// INFREQUENT_ACCESS; empty leaves the server's default. Default: empty.
	LogGroupClass string `yaml:"log_group_class"`
	// RetentionDays, when > 0, is set on groups the output creates (one of
	// CloudWatch's allowed values: 1, 3, 5, 7, 14, 30, …). Default: 0 (never
	// expire).
	RetentionDays int `yaml:"retention_days"`
	// NoBatchRequests keeps one PutLogEvents per batch to a kinsight
	// server too, instead of PutLogEventsBatch (multi.go): for tests and
	// comparisons, not in the YAML.
	NoBatchRequests bool `yaml:"-"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Compression:    CompressionAuto,
		MaxRetries:     10,
		RetryBase:      200 * time.Millisecond,
		RetryMax:       30 * time.Second,
		RequestTimeout: 30 * time.Second,
	}
}

// validRetention reports whether PutRetentionPolicy accepts d days.
func validRetention(d int) bool {
	return slices.Contains([]int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545,
		731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}, d)
}

// Validate checks the configuration; key is its YAML path (for example
// agent.outputs.cloudwatch) and prefixes every error.
func (c *Config) Validate(key string) error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("%s.endpoint must be an http:// or https:// URL (got %q)", key, c.Endpoint)
		}
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		add("%s.access_key_id and %s.secret_access_key must be set together", key, key)
	}
	switch c.Compression {
	case CompressionAuto, CompressionGzip, CompressionZstd, CompressionNone:
	default:
		add("%s.compression must be auto, gzip, zstd or none (got %q)", key, c.Compression)
	}
	if c.MaxRetries < 0 {
		add("%s.max_retries must be >= 0 (got %d)", key, c.MaxRetries)
	}
	if c.RetryBase <= 0 {
		add("%s.retry_base must be > 0 (got %s)", key, c.RetryBase)
	}
	if c.RetryMax < c.RetryBase {
		add("%s.retry_max must be >= retry_base (got %s)", key, c.RetryMax)
	}
	if c.RequestTimeout <= 0 {
		add("%s.request_timeout must be > 0 (got %s)", key, c.RequestTimeout)
	}
	switch c.LogGroupClass {
	case "", "STANDARD", "INFREQUENT_ACCESS":
	default:
		add("%s.log_group_class must be STANDARD or INFREQUENT_ACCESS (got %q)", key, c.LogGroupClass)
	}
	if c.RetentionDays != 0 && !validRetention(c.RetentionDays) {
		add("%s.retention_days must be 0 or a CloudWatch retention value (1, 3, 5, 7, 14, 30, 60, 90, …) (got %d)", key, c.RetentionDays)
	}
	return errors.Join(errs...)
}

// encoding is the Content-Encoding the output starts with ("" for none).
func (c *Config) encoding() string {
	switch c.Compression {
	case CompressionGzip:
		return "gzip"
	case CompressionZstd:
		return "zstd"
	case CompressionAuto:
		if c.Endpoint != "" {
			return S2Encoding
		}
	}
	return ""
}
