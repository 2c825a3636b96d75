package clustermetrics

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// The test binary re-executed with these variables set is an agent that
// campaigns until it is killed (TestMain calls helperProcess).
const (
	helperEnvURL   = "CLUSTERMETRICS_HELPER_URL"
	helperEnvToken = "CLUSTERMETRICS_HELPER_TOKEN"
	helperEnvNS    = "CLUSTERMETRICS_HELPER_NAMESPACE"
	helperIdentity = "agent-process"
)

// helperProcess runs an Elector against the API server named by the
// environment until the process is killed.
func helperProcess() int {
	cs, err := kubernetes.NewForConfig(&rest.Config{
		Host: os.Getenv(helperEnvURL), BearerToken: os.Getenv(helperEnvToken),
		TLSClientConfig: rest.TLSClientConfig{Insecure: true},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	e, err := New(Options{Client: cs, ClusterName: "test-cluster", LeaseNamespace: os.Getenv(helperEnvNS),
		LeaseName: "lease", Identity: helperIdentity, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		LeaseDuration: testLease, RenewDeadline: testRenew, RetryPeriod: testRetry})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := e.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestTakeoverAfterProcessKill: the leader is another process, killed
// with SIGKILL (no release, no goodbye); the agent in this process takes
// the Lease over once it expires and reports the cluster's counts.
func TestTakeoverAfterProcessKill(t *testing.T) {
	expect := want(t)
	const ns = "kinsight-kill-process"
	cluster.EnsureNamespace(t, ns)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnvURL+"="+cluster.URL, helperEnvToken+"="+cluster.Admin().BearerToken, helperEnvNS+"="+ns)
	cmd.Stderr = os.Stderr
	// The helper dies with the test binary if the test is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	cs := cluster.Clientset()
	holder := func() string {
		l, err := cs.CoordinationV1().Leases(ns).Get(context.Background(), "lease", metav1.GetOptions{})
		if err != nil || l.Spec.HolderIdentity == nil {
			return ""
		}
		return *l.Spec.HolderIdentity
	}
	eventually(t, 60*time.Second, "the helper process never took the Lease", func() bool { return holder() == helperIdentity })
	other := start(t, newElector(t, cs, ns, "lease", "agent-survivor"))
	time.Sleep(3 * testRetry)
	if other.IsLeader() || len(samples(t, other.Elector)) != 0 {
		t.Fatal("the second agent leads or reports while the first holds the Lease")
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	exited <- nil // for the cleanup's receive
	killed := time.Now()
	eventually(t, 30*time.Second, "the surviving agent never took over", func() bool {
		return other.IsLeader() && len(samples(t, other.Elector)) > 0
	})
	took := time.Since(killed)
	t.Logf("takeover after SIGKILL of the leader process: %v (lease %v, retry %v)", took, testLease, testRetry)
	// Expected: lease duration after the last renewal, plus up to a retry
	// period or two; the bound leaves room for a loaded machine.
	if took > 3*testLease {
		t.Errorf("takeover took %v, more than 3× the lease duration", took)
	}
	if h := holder(); h != "agent-survivor" {
		t.Errorf("lease holder %q after takeover", h)
	}
	if d := diff(samples(t, other.Elector), expect); d != "" {
		t.Errorf("new leader's counts:\n%s", d)
	}
}
