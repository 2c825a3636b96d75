package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/smithy-go"
	"github.com/spf13/cobra"

	"github.com/kinsight/kinsight/internal/config"
)

// defaultEndpoint is where `kinsight server` and `kinsight up` listen unless
// configured otherwise.
const defaultEndpoint = "http://127.0.0.1:8470"

// Dummy credentials for servers without auth. They are real-looking static
// keys rather than aws.AnonymousCredentials because the SDK skips signing for
// anonymous credentials, and a request without Authorization is not the
// shape any CloudWatch Logs server expects.
const (
	anonymousKeyID  = "KINSIGHTANONYMOUS"
	anonymousSecret = "kinsight-anonymous"
)

// logsAPI is the part of the CloudWatch Logs client the logs commands call.
// *cloudwatchlogs.Client satisfies it; tests pass their own to exercise
// pagination and formatting without a server.
type logsAPI interface {
	DescribeLogGroups(ctx context.Context, in *cloudwatchlogs.DescribeLogGroupsInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DescribeLogGroupsOutput, error)
	DescribeLogStreams(ctx context.Context, in *cloudwatchlogs.DescribeLogStreamsInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DescribeLogStreamsOutput, error)
	GetLogEvents(ctx context.Context, in *cloudwatchlogs.GetLogEventsInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.GetLogEventsOutput, error)
	FilterLogEvents(ctx context.Context, in *cloudwatchlogs.FilterLogEventsInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error)
}

var _ logsAPI = (*cloudwatchlogs.Client)(nil)

// logsConn is everything a logs subcommand needs to reach a server: the SDK
// client for the CloudWatch Logs operations, and what the tail stream needs
// to sign its own request.
type logsConn struct {
	api      logsAPI
	endpoint string
	region   string
	creds    aws.CredentialsProvider
	http     *http.Client
}

// logsFlags are the persistent flags of `kinsight logs`.
type logsFlags struct {
	endpoint string
	region   string
	profile  string
	output   string
	local    bool
}

// logsCmd holds the state shared by the logs subcommands. dial and loadChain
// are seams: production uses the AWS SDK, tests substitute their own.
type logsCmd struct {
	env   *Env
	flags logsFlags
	// profileSet records that a profile was asked for explicitly, so failing
	// to load it is an error instead of a fall-back to dummy credentials.
	profileSet bool
	dial       func(ctx context.Context) (*logsConn, error)
	loadChain  func(ctx context.Context, profile string, imdsOff bool) (aws.Config, error)
	now        func() time.Time
}

func newLogsCmd(env *Env) *cobra.Command {
	l := &logsCmd{env: env, loadChain: loadSDKChain, now: time.Now}
	l.dial = l.dialSDK
	return l.command()
}

// command builds `kinsight logs` and its subcommands.
func (l *logsCmd) command() *cobra.Command {
	getenv := l.env.Getenv
	cmd := &cobra.Command{
		Use:   "logs",
		Short: "Read log groups, streams and events from a kinsight (or CloudWatch Logs) server",
		Long: `Read logs through the CloudWatch Logs API, the same API the AWS CLI uses.

The server is --endpoint (default $KINSIGHT_ENDPOINT, else ` + defaultEndpoint + `).
Requests are SigV4-signed with $AWS_ACCESS_KEY_ID/$AWS_SECRET_ACCESS_KEY, else
the standard AWS credential chain (--profile, ~/.aws/credentials, …), else
dummy credentials that a server without auth accepts.

--output table (default) prints aligned columns with RFC3339 times (UTC unless
--local). --output json prints groups and streams as one JSON array, and
events (get, filter, tail) as one JSON object per line (NDJSON) so they can be
piped into jq or another program while they arrive:
  {"logStreamName":"…","timestamp":1700000000000,"message":"…","ingestionTime":…,"eventId":"…"}`,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			switch l.flags.output {
			case "table", "json":
			case "csv":
				if cmd.Name() != "query" {
					return fmt.Errorf("--output csv is only for query; use table or json")
				}
			default:
				return fmt.Errorf("--output must be table or json (or csv for query) (got %q)", l.flags.output)
			}
			l.profileSet = l.flags.profile != ""
			return nil
		},
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&l.flags.endpoint, "endpoint", firstNonEmpty(getenv("KINSIGHT_ENDPOINT"), defaultEndpoint),
		"server URL (env KINSIGHT_ENDPOINT)")
	pf.StringVar(&l.flags.region, "region", firstNonEmpty(getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION"), "us-east-1"),
		"region used to sign requests (env AWS_REGION, AWS_DEFAULT_REGION)")
	pf.StringVar(&l.flags.profile, "profile", getenv("AWS_PROFILE"),
		"shared credentials profile (env AWS_PROFILE)")
	pf.StringVarP(&l.flags.output, "output", "o", "table", "output format: table or json (query: also csv)")
	pf.BoolVar(&l.flags.local, "local", false, "print times in the local time zone instead of UTC")
	cmd.AddCommand(l.groupsCmd(), l.streamsCmd(), l.getCmd(), l.filterCmd(), l.tailCmd(), l.queryCmd())
	return cmd
}

// printer returns the output formatter the flags ask for.
func (l *logsCmd) printer() *printer {
	loc := time.UTC
	if l.flags.local {
		loc = time.Local
	}
	return newPrinter(l.env.Stdout, l.flags.output == "json", loc)
}

// location is the zone that times without an offset are read in, the same
// one they are printed in.
func (l *logsCmd) location() *time.Location {
	if l.flags.local {
		return time.Local
	}
	return time.UTC
}

// dialSDK builds the real AWS SDK client for the flags.
func (l *logsCmd) dialSDK(ctx context.Context) (*logsConn, error) {
	u, err := url.Parse(l.flags.endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--endpoint must be an http:// or https:// URL (got %q)", l.flags.endpoint)
	}
	creds, err := l.credentials(ctx, config.IsLoopback(u.Hostname()))
	if err != nil {
		return nil, err
	}
	endpoint := strings.TrimRight(l.flags.endpoint, "/")
	client := cloudwatchlogs.New(cloudwatchlogs.Options{
		Region:       l.flags.region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  creds,
	})
	return &logsConn{
		api:      client,
		endpoint: endpoint,
		region:   l.flags.region,
		creds:    creds,
		http:     &http.Client{}, // no timeout: the tail stream lives as long as the command
	}, nil
}

// credentials picks, in order: the access key in the environment, the
// standard AWS chain, and dummy credentials for a server without auth.
func (l *logsCmd) credentials(ctx context.Context, loopback bool) (aws.CredentialsProvider, error) {
	getenv := l.env.Getenv
	if id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"); id != "" && secret != "" {
		return credentials.NewStaticCredentialsProvider(id, secret, getenv("AWS_SESSION_TOKEN")), nil
	}
	// The EC2 metadata service only hands out IAM role credentials, which a
	// kinsight server on this machine cannot know; asking it would only add
	// seconds of timeouts off EC2.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cfg, err := l.loadChain(ctx, l.flags.profile, loopback)
	if err == nil && cfg.Credentials != nil {
		if _, err = cfg.Credentials.Retrieve(ctx); err == nil {
			return cfg.Credentials, nil
		}
	}
	if l.profileSet {
		return nil, fmt.Errorf("credentials for profile %q: %w", l.flags.profile, err)
	}
	return credentials.NewStaticCredentialsProvider(anonymousKeyID, anonymousSecret, ""), nil
}

// loadSDKChain loads the standard AWS configuration (shared files, SSO, web
// identity, …) for its credential chain.
func loadSDKChain(ctx context.Context, profile string, imdsOff bool) (aws.Config, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(profile))
	}
	if imdsOff {
		opts = append(opts, awsconfig.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	return awsconfig.LoadDefaultConfig(ctx, opts...)
}

// awsAPIError is an error the server answered, reduced to the AWS error
// code and message: what a user can act on, without the operation, status
// and request id the SDK's own text wraps around it.
type awsAPIError struct{ code, message string }

func (e *awsAPIError) Error() string { return e.code + ": " + e.message }

// apiError converts an SDK error the server answered into *awsAPIError and
// shortens a failed connection to its network error.
func apiError(err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return &awsAPIError{code: ae.ErrorCode(), message: ae.ErrorMessage()}
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return fmt.Errorf("cannot reach the server: %w", oe)
	}
	return err
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
