// Package agentmetrics runs the agent's metric side: it collects the node,
// pod and cluster collectors every interval, appends what they expose into
// the agent's metric WAL (package agentwal) with the collection's
// timestamp, runs the Prometheus scraper (package scrape) into the same
// WAL, and lets the WAL's senders ship it all by remote_write.
//
// It lives in the metricstore tree because the scraper appends into a
// Prometheus storage.Appendable, and only this tree may import
// Prometheus's packages (DESIGN.md): Appendable adapts the WAL's own
// appender to that interface, so the rest of the agent never sees it.
//
// # One collection
//
// Every Interval, one goroutine: observes the pod collector (bounded by
// the interval, so a hung kubelet cannot pile collections up), then
// gathers each source's registry and appends it in one WAL transaction
// per source, stamped with the tick's time. Node series get NodeLabels
// (instance=<node>, job=kinsight-agent) where they do not carry those
// labels themselves; Container Insights series carry ClusterName,
// NodeName and InstanceId from their collectors. A source that fails is
// logged once when it starts failing and once when it recovers, and
// counted in kinsight_agent_metrics_collections_total{source,result}; the
// other sources are unaffected and a failure is never fatal.
//
// # Isolation from the log side
//
// Appending writes to the local WAL only; shipping is done by the WAL's
// own senders, which retry forever with backoff. So a slow or down
// remote_write endpoint delays nothing here and nothing on the log side,
// which shares only the process with this package.
//
// # Shutdown
//
// When Run's context ends, the collection loop, the elector (which
// releases its Lease) and the scraper stop, then the store is closed:
// the WAL is fsynced and each endpoint's position was saved after its
// last acknowledged request, so the next start resends at most the
// request that was in flight. A SIGKILL loses nothing committed either
// (see agentwal).
package agentmetrics
