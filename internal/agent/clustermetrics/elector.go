package clustermetrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"
)

// Defaults of Options, those of kube-controller-manager's leader election.
const (
	DefaultLeaseName     = "kinsight-agent-cluster-metrics"
	DefaultLeaseDuration = 15 * time.Second
	DefaultRenewDeadline = 10 * time.Second
	DefaultRetryPeriod   = 2 * time.Second
)

// Options configure an Elector.
type Options struct {
	// Client talks to the API server (the agent's service account). Required.
	Client kubernetes.Interface
	// ClusterName labels every series (ClusterName).
	ClusterName string
	// LeaseNamespace holds the Lease, normally the agent's own namespace.
	// Required.
	LeaseNamespace string
	// LeaseName names the Lease. Default DefaultLeaseName.
	LeaseName string
	// Identity is this agent's name in the Lease (holderIdentity): the node
	// or pod name, unique among the agents. Required.
	Identity string
	// Logger receives election and informer events. Default slog.Default().
	Logger *slog.Logger
	// LeaseDuration is how long followers wait after the last renewal
	// before taking the lease over; whole seconds (the Lease stores
	// seconds). Default 15 s.
	LeaseDuration time.Duration
	// RenewDeadline is how long the leader keeps retrying a renewal before
	// it gives up leading. Must be < LeaseDuration. Default 10 s.
	RenewDeadline time.Duration
	// RetryPeriod is the interval between attempts to acquire or renew.
	// Must be < RenewDeadline/1.2. Default 2 s.
	RetryPeriod time.Duration
}

// Elector campaigns for the Lease and, while it holds it, keeps the cluster
// informers and exposes the cluster metrics. It is a prometheus.Collector.
type Elector struct {
	opts  Options
	descs *descs
	// syncWarnAfter is how long a new leader waits for its caches before
	// it logs which have not synced (30 s; shorter in tests).
	syncWarnAfter time.Duration
	leader        atomic.Bool

	mu    sync.Mutex
	state *caches // non-nil while leading and synced
}

// New checks opts and returns an Elector; call Run to campaign.
func New(opts Options) (*Elector, error) {
	var errs []error
	if opts.Client == nil {
		errs = append(errs, errors.New("no Client (required)"))
	}
	if opts.LeaseNamespace == "" {
		errs = append(errs, errors.New("no LeaseNamespace (required)"))
	}
	if opts.Identity == "" {
		errs = append(errs, errors.New("no Identity (required)"))
	}
	if opts.LeaseName == "" {
		opts.LeaseName = DefaultLeaseName
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.LeaseDuration == 0 {
		opts.LeaseDuration = DefaultLeaseDuration
	}
	if opts.RenewDeadline == 0 {
		opts.RenewDeadline = DefaultRenewDeadline
	}
	if opts.RetryPeriod == 0 {
		opts.RetryPeriod = DefaultRetryPeriod
	}
	if opts.LeaseDuration%time.Second != 0 || opts.LeaseDuration < time.Second {
		errs = append(errs, fmt.Errorf("LeaseDuration %v must be whole seconds (the Lease stores seconds)", opts.LeaseDuration))
	}
	if opts.RenewDeadline >= opts.LeaseDuration {
		errs = append(errs, fmt.Errorf("RenewDeadline %v must be < LeaseDuration %v", opts.RenewDeadline, opts.LeaseDuration))
	}
	if float64(opts.RenewDeadline) <= leaderelection.JitterFactor*float64(opts.RetryPeriod) || opts.RetryPeriod <= 0 {
		errs = append(errs, fmt.Errorf("RetryPeriod %v must be > 0 and < RenewDeadline/%v", opts.RetryPeriod, leaderelection.JitterFactor))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("clustermetrics: %w", err)
	}
	return &Elector{opts: opts, descs: newDescs(), syncWarnAfter: 30 * time.Second}, nil
}

// IsLeader reports whether this agent holds the Lease now. Metrics follow
// once the informers have synced.
func (e *Elector) IsLeader() bool { return e.leader.Load() }

// Run campaigns for the Lease until ctx ends, leading whenever it holds it,
// and campaigns again after losing it. On return the informers are stopped
// and, if it held the Lease, the Lease is released. It returns nil when ctx
// ends; errors only come from a malformed configuration. One Run at a time
// per Elector: two would campaign as the same identity.
func (e *Elector) Run(ctx context.Context) error {
	// client-go's election and informers log through klog; give them the
	// agent's slog handler so their lines look like the agent's own.
	ctx = klog.NewContext(ctx, logr.FromSlogHandler(e.opts.Logger.Handler()))
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: e.opts.LeaseNamespace, Name: e.opts.LeaseName},
		Client:     e.opts.Client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: e.opts.Identity},
	}
	for ctx.Err() == nil {
		// leaderelection starts OnStartedLeading in a goroutine of its own;
		// handing the term over a channel lets this goroutine run it, so
		// that a term's informers are always stopped before the next
		// campaign and before Run returns.
		terms := make(chan context.Context)
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock:            lock,
			LeaseDuration:   e.opts.LeaseDuration,
			RenewDeadline:   e.opts.RenewDeadline,
			RetryPeriod:     e.opts.RetryPeriod,
			ReleaseOnCancel: true,
			Name:            e.opts.LeaseName,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(lctx context.Context) {
					select {
					case terms <- lctx:
					case <-lctx.Done():
					}
				},
				OnStoppedLeading: e.stopped,
				OnNewLeader: func(id string) {
					e.opts.Logger.Info("cluster metrics leader", "lease", e.opts.LeaseNamespace+"/"+e.opts.LeaseName, "leader", id, "self", id == e.opts.Identity)
				},
			},
		})
		if err != nil {
			return fmt.Errorf("clustermetrics: leader election: %w", err)
		}
		campaign := make(chan struct{})
		go func() {
			defer close(campaign)
			le.Run(ctx)
		}()
	term:
		for {
			select {
			case lctx := <-terms:
				e.lead(lctx)
			case <-campaign:
				break term
			}
		}
	}
	return nil
}

// lead runs one term: it starts the informers, publishes them once synced
// and stops them when lctx ends (the lease is lost or Run's ctx ended).
func (e *Elector) lead(lctx context.Context) {
	e.mu.Lock()
	// stopped() runs after lctx is cancelled; checking lctx under the lock
	// keeps a term that has already ended from claiming leadership after it.
	if lctx.Err() != nil {
		e.mu.Unlock()
		return
	}
	e.leader.Store(true)
	e.mu.Unlock()
	log := e.opts.Logger.With("lease", e.opts.LeaseNamespace+"/"+e.opts.LeaseName)
	log.Info("cluster metrics: leading, starting informers")
	inf := startInformers(lctx, e.opts.Client)
	if inf.waitSynced(lctx, log, e.syncWarnAfter) {
		e.mu.Lock()
		if lctx.Err() == nil { // as above
			e.state = inf
		}
		e.mu.Unlock()
		log.Info("cluster metrics: caches synced, reporting")
	}
	<-lctx.Done()
	e.stopped()
	inf.stop()
	log.Info("cluster metrics: stopped leading, informers stopped")
}

// stopped is leaderelection's OnStoppedLeading: it runs when a term ends
// (and when a campaign ends without one), after the term's context is
// cancelled, and hides the metrics at once rather than when lead's
// goroutine gets round to it.
//
// lead calls it too when its term ends: terms run one after the other in
// Run's goroutine, so no later term can have published yet.
func (e *Elector) stopped() {
	e.mu.Lock()
	e.leader.Store(false)
	e.state = nil
	e.mu.Unlock()
}

// current returns the published informers, nil if not leading or not synced.
func (e *Elector) current() *caches {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.state
}
