package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
)

// Helpers shared by the awscli_*_test.go files; their names start with "ac"
// because other files of this package are written at the same time. The AWS CLI is a Python
// program that takes from half a second to several seconds to start on a
// loaded machine, so the tests call it only for what they verify and seed
// data through the Go SDK (one process, no start-up cost).

// acTimeout bounds one AWS CLI run; generous because a loaded CI machine
// makes Python start slowly, and a hung CLI must still end the test.
const acTimeout = 2 * time.Minute

// acli runs the AWS CLI against one server as one access key.
type acli struct {
	t           *testing.T
	p           *serverProc
	key, secret string
}

func newACLI(t *testing.T, p *serverProc, key, secret string) acli {
	return acli{t: t, p: p, key: key, secret: secret}
}

// run runs `aws args…` and returns stdout, or an error carrying stderr.
func (c acli) run(args ...string) (string, error) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), acTimeout)
	defer cancel()
	out, errOut, err := c.p.aws(ctx, c.key, c.secret, args...)
	if err != nil {
		return out, fmt.Errorf("aws %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errOut))
	}
	return out, nil
}

// ok runs the CLI, fails the test on error, and decodes stdout into v
// (unless v is nil or stdout is empty).
func (c acli) ok(v any, args ...string) {
	c.t.Helper()
	out, err := c.run(args...)
	if err != nil {
		c.t.Fatal(err)
	}
	if v == nil || strings.TrimSpace(out) == "" {
		return
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		c.t.Fatalf("aws %s: decoding output: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// fails runs the CLI, expects the service error errType (the CLI prints
// "An error occurred (Type) when calling …") and returns stderr's text.
func (c acli) fails(errType string, args ...string) string {
	c.t.Helper()
	out, err := c.run(args...)
	if err == nil {
		c.t.Fatalf("aws %s: succeeded, want %s; stdout: %s", strings.Join(args, " "), errType, out)
	}
	if !strings.Contains(err.Error(), "An error occurred ("+errType+")") {
		c.t.Fatalf("want %s, got: %v", errType, err)
	}
	return err.Error()
}

// acAWSEnv is the environment p.aws gives the CLI, for the commands the tests
// start themselves (background followers).
func acAWSEnv(key, secret string) []string {
	return append(os.Environ(),
		"AWS_ACCESS_KEY_ID="+key, "AWS_SECRET_ACCESS_KEY="+secret, "AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1", "AWS_PAGER=", "AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true",
	)
}

// acSDK is a CloudWatch Logs client of the Go SDK pointed at p.
func acSDK(p *serverProc, key, secret string) *cloudwatchlogs.Client {
	return cloudwatchlogs.New(cloudwatchlogs.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(p.url()),
		Credentials:  credentials.NewStaticCredentialsProvider(key, secret, ""),
	})
}

// acSeed creates groups and streams and puts events through the SDK. Each
// events slice must be in time order (PutLogEvents requires it).
type acSeed struct {
	t  *testing.T
	cl *cloudwatchlogs.Client
}

func newACSeed(t *testing.T, p *serverProc) acSeed {
	return acSeed{t: t, cl: acSDK(p, adminKey, adminSecret)}
}

func (s acSeed) group(name string) {
	s.t.Helper()
	if _, err := s.cl.CreateLogGroup(context.Background(), &cloudwatchlogs.CreateLogGroupInput{LogGroupName: &name}); err != nil {
		s.t.Fatalf("CreateLogGroup %s: %v", name, err)
	}
}

func (s acSeed) stream(group, name string) {
	s.t.Helper()
	if _, err := s.cl.CreateLogStream(context.Background(), &cloudwatchlogs.CreateLogStreamInput{LogGroupName: &group, LogStreamName: &name}); err != nil {
		s.t.Fatalf("CreateLogStream %s/%s: %v", group, name, err)
	}
}

func (s acSeed) put(group, stream string, events ...acEvent) {
	s.t.Helper()
	in := &cloudwatchlogs.PutLogEventsInput{LogGroupName: &group, LogStreamName: &stream}
	for _, e := range events {
		in.LogEvents = append(in.LogEvents, types.InputLogEvent{Timestamp: aws.Int64(e.Timestamp), Message: aws.String(e.Message)})
	}
	out, err := s.cl.PutLogEvents(context.Background(), in)
	if err != nil {
		s.t.Fatalf("PutLogEvents %s/%s: %v", group, stream, err)
	}
	if out.RejectedLogEventsInfo != nil {
		s.t.Fatalf("PutLogEvents %s/%s rejected events: %+v", group, stream, *out.RejectedLogEventsInfo)
	}
}

// count returns how many events a stream holds (GetLogEvents from the
// head, every page).
func (s acSeed) count(group, stream string) int {
	s.t.Helper()
	n := 0
	pg := cloudwatchlogs.NewGetLogEventsPaginator(s.cl, &cloudwatchlogs.GetLogEventsInput{
		LogGroupName: &group, LogStreamName: &stream, StartFromHead: aws.Bool(true),
	}, func(o *cloudwatchlogs.GetLogEventsPaginatorOptions) { o.StopOnDuplicateToken = true })
	for pages := 0; pg.HasMorePages(); pages++ {
		if pages > 1000 {
			s.t.Fatalf("GetLogEvents %s/%s: nextForwardToken did not repeat after 1000 pages", group, stream)
		}
		out, err := pg.NextPage(context.Background())
		if err != nil {
			s.t.Fatalf("GetLogEvents %s/%s: %v", group, stream, err)
		}
		n += len(out.Events)
	}
	return n
}

// acEvent is an event as the CLI's JSON carries it: an input event for
// --log-events files, and the fields of output and filtered events.
type acEvent struct {
	LogStreamName string `json:"logStreamName,omitempty"`
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime,omitempty"`
	EventID       string `json:"eventId,omitempty"`
}

// acEventsFile writes events as a --log-events JSON file and returns the
// file:// argument the CLI takes.
func acEventsFile(t *testing.T, events []acEvent) string {
	t.Helper()
	b, err := json.Marshal(events)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.CreateTemp(t.TempDir(), "events-*.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return "file://" + filepath.ToSlash(f.Name())
}

// acMessages returns the messages of events, for comparisons.
func acMessages(events []acEvent) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.Message
	}
	return out
}

// acEqual fails the test unless got and want are equal, naming the
// first difference.
func acEqual(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got %d items, want %d\ngot:  %.2000q\nwant: %.2000q", what, len(got), len(want), got, want)
		return
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%s: item %d is %q, want %q\ngot:  %.2000q\nwant: %.2000q", what, i, got[i], want[i], got, want)
			return
		}
	}
}

// acLines reads a background process's stdout line by line and lets a
// test wait for a line containing some text, with the time it arrived.
type acLines struct {
	mu    sync.Mutex
	lines []acLine
	more  chan struct{} // closed and replaced on every new line
	done  chan struct{} // closed at EOF
}

type acLine struct {
	at   time.Time
	text string
}

func acWatch(r io.Reader) *acLines {
	w := &acLines{more: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			l := acLine{at: time.Now(), text: sc.Text()}
			w.mu.Lock()
			w.lines = append(w.lines, l)
			close(w.more)
			w.more = make(chan struct{})
			w.mu.Unlock()
		}
	}()
	return w
}

// waitFor returns the first line containing sub, waiting up to timeout.
func (w *acLines) waitFor(sub string, timeout time.Duration) (acLine, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		w.mu.Lock()
		for _, l := range w.lines {
			if strings.Contains(l.text, sub) {
				w.mu.Unlock()
				return l, true
			}
		}
		more := w.more
		w.mu.Unlock()
		select {
		case <-more:
		case <-w.done:
			// Check once more: the last line may have arrived with EOF.
			w.mu.Lock()
			defer w.mu.Unlock()
			for _, l := range w.lines {
				if strings.Contains(l.text, sub) {
					return l, true
				}
			}
			return acLine{}, false
		case <-deadline.C:
			return acLine{}, false
		}
	}
}

// all returns every line read so far.
func (w *acLines) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, len(w.lines))
	for i, l := range w.lines {
		out[i] = l.text
	}
	return out
}

// acStartBackground starts cmd with its stdout watched and stderr captured;
// the returned stop kills it (it is a follower that never exits by itself)
// and returns its stderr. cmd should come from exec.CommandContext with a
// deadline, so a test that dies early cannot leave it running.
func acStartBackground(t *testing.T, cmd *exec.Cmd) (*acLines, func() string) {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	var errMu sync.Mutex
	cmd.Stderr = acWriterFunc(func(b []byte) (int, error) {
		errMu.Lock()
		defer errMu.Unlock()
		return stderr.Write(b)
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := acWatch(stdout)
	var once sync.Once
	stop := func() string {
		once.Do(func() {
			_ = cmd.Process.Kill()
			<-w.done
			_ = cmd.Wait()
		})
		errMu.Lock()
		defer errMu.Unlock()
		return stderr.String()
	}
	t.Cleanup(func() { stop() })
	return w, stop
}

type acWriterFunc func([]byte) (int, error)

func (f acWriterFunc) Write(b []byte) (int, error) { return f(b) }
