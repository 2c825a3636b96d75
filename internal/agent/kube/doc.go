// Package kube gives the agent Kubernetes metadata for the pods of its own
// node: the Fluent Bit `kubernetes` object (pod name, namespace, uid, labels,
// annotations, host, container id, image and image id) plus the owning
// workload, and the kinsight.io/exclude and kinsight.io/parser annotations.
//
// Design and guarantees:
//
//   - One pod informer, scoped to the node by the field selector
//     spec.nodeName=<node>: one LIST (or a watch-list) at start and a WATCH
//     from then on. Lookups (Watcher.Pod) read a local map and never call the
//     API server, whatever the record rate; the service account needs only
//     list and watch on pods.
//   - Every informer event builds a new *Pod from the API object and swaps it
//     into the map under a lock, so a *Pod handed out is never modified and
//     can be read without locking.
//   - The owning workload is resolved from ownerReferences and labels alone
//     (no GET of ReplicaSets or Jobs): a ReplicaSet named
//     <name>-<pod-template-hash> is the Deployment <name>; a Job named
//     <name>-<minutes since the epoch of a recent time> is the CronJob <name>
//     (how the CronJob controller names its Jobs). Anything else is reported
//     as the raw controller owner.
//   - A deleted pod's metadata is kept for Config.DeletedTTL, because its log
//     files are still being drained after the pod is gone. Deleted entries
//     are expired lazily on lookup and swept periodically so memory does not
//     grow with pod churn. Pods are found by namespace and name (the newest
//     pod of that name) or by UID (Watcher.PodByUID; the log directory
//     /var/log/pods/<ns>_<name>_<uid> names it), which keeps a deleted
//     StatefulSet pod's logs apart from its successor of the same name, also
//     when a relist replaces one by the other without a delete event.
//   - Label-based include/exclude rules are the pipeline's job, not this
//     package's.
package kube
