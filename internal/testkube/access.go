package testkube

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ServiceAccountToken creates namespace (if needed), the service account
// name in it, a ClusterRole with rules bound to it, and returns a bearer
// token of that service account (TokenRequest API, valid for an hour).
func (c *Cluster) ServiceAccountToken(t testing.TB, namespace, name string, rules []rbacv1.PolicyRule) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs := c.Clientset()
	c.EnsureNamespace(t, namespace)
	_, err := cs.CoreV1().ServiceAccounts(namespace).Create(ctx,
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("testkube: create service account %s/%s: %v", namespace, name, err)
	}
	role := "testkube:" + namespace + ":" + name
	_, err = cs.RbacV1().ClusterRoles().Create(ctx,
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: role}, Rules: rules}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("testkube: create cluster role %s: %v", role, err)
	}
	_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: name}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("testkube: create cluster role binding %s: %v", role, err)
	}
	expiry := int64(3600)
	tr, err := cs.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("testkube: token for %s/%s: %v", namespace, name, err)
	}
	return tr.Status.Token
}

// EnsureNamespace creates namespace unless it exists.
func (c *Cluster) EnsureNamespace(t testing.TB, namespace string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := c.Clientset().CoreV1().Namespaces().Create(ctx,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("testkube: create namespace %s: %v", namespace, err)
	}
}

// RequestCount sums the API server's apiserver_request_total over every
// series with this verb (LIST, WATCH, GET, POST, …; as the API server spells
// it) and resource (e.g. "pods"), all subresources, codes and scopes
// included. A WATCH is counted when it ends, not when it starts.
func (c *Cluster) RequestCount(t testing.TB, verb, resource string) float64 {
	t.Helper()
	n, err := c.requestCount(verb, resource)
	if err != nil {
		t.Fatalf("testkube: request count: %v", err)
	}
	return n
}

func (c *Cluster) requestCount(verb, resource string) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lines, err := c.metricLines(ctx, "apiserver_request_total")
	if err != nil {
		return 0, err
	}
	var sum float64
	for _, line := range lines {
		labels, value, err := parseSample(line)
		if err != nil {
			return 0, fmt.Errorf("%w in %q", err, line)
		}
		if labels["verb"] == verb && labels["resource"] == resource {
			sum += value
		}
	}
	return sum, nil
}

// parseSample parses one Prometheus text-format sample line,
// `name{k="v",…} value [timestamp]`. Label values may hold escaped quotes.
func parseSample(line string) (map[string]string, float64, error) {
	open := strings.IndexByte(line, '{')
	if open < 0 {
		return nil, 0, fmt.Errorf("no labels")
	}
	labels := map[string]string{}
	i := open + 1
	for {
		if i >= len(line) {
			return nil, 0, fmt.Errorf("unterminated labels")
		}
		if line[i] == '}' {
			i++
			break
		}
		if line[i] == ',' {
			i++
			continue
		}
		eq := strings.Index(line[i:], `="`)
		if eq < 0 {
			return nil, 0, fmt.Errorf("label without value")
		}
		key := line[i : i+eq]
		i += eq + 2
		var val strings.Builder
		for ; i < len(line) && line[i] != '"'; i++ {
			if line[i] == '\\' && i+1 < len(line) {
				i++
				switch line[i] {
				case 'n':
					val.WriteByte('\n')
				default:
					val.WriteByte(line[i])
				}
				continue
			}
			val.WriteByte(line[i])
		}
		if i >= len(line) {
			return nil, 0, fmt.Errorf("unterminated label value")
		}
		i++ // closing quote
		labels[key] = val.String()
	}
	fields := strings.Fields(line[i:])
	if len(fields) == 0 {
		return nil, 0, fmt.Errorf("no value")
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return nil, 0, fmt.Errorf("value: %w", err)
	}
	return labels, v, nil
}
