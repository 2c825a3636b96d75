package scrape

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/prometheus/discovery/kubernetes"
	"k8s.io/client-go/rest"
)

// sdConfigFor expresses a client-go configuration as a Kubernetes SD
// config (api_server plus HTTP client settings), the only way
// discovery/kubernetes accepts credentials other than a kubeconfig file or
// the in-cluster ones. Token and certificate files stay files, so rotated
// service-account tokens are re-read as Prometheus re-reads them.
// Configurations that only Go code can express (a custom transport, exec
// or auth-provider plugins) are refused.
func sdConfigFor(rc *rest.Config) (kubernetes.SDConfig, error) {
	sd := kubernetes.DefaultSDConfig
	if rc == nil || rc.Host == "" {
		return sd, errors.New("kubernetes client config: no host")
	}
	if rc.Transport != nil || rc.WrapTransport != nil || rc.ExecProvider != nil || rc.AuthProvider != nil {
		return sd, errors.New("kubernetes client config: custom transports and credential plugins are not supported")
	}
	host := rc.Host
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	u, err := url.Parse(host)
	if err != nil {
		return sd, fmt.Errorf("kubernetes client config: host: %w", err)
	}
	sd.APIServer = commoncfg.URL{URL: u}

	hc := commoncfg.DefaultHTTPClientConfig
	switch {
	case rc.BearerToken != "":
		hc.Authorization = &commoncfg.Authorization{Type: "Bearer", Credentials: commoncfg.Secret(rc.BearerToken)}
	case rc.BearerTokenFile != "":
		hc.Authorization = &commoncfg.Authorization{Type: "Bearer", CredentialsFile: rc.BearerTokenFile}
	case rc.Username != "":
		hc.BasicAuth = &commoncfg.BasicAuth{Username: rc.Username, Password: commoncfg.Secret(rc.Password)}
	}
	hc.TLSConfig = commoncfg.TLSConfig{
		CA:                 string(rc.CAData),
		CAFile:             rc.CAFile,
		Cert:               string(rc.CertData),
		CertFile:           rc.CertFile,
		Key:                commoncfg.Secret(rc.KeyData),
		KeyFile:            rc.KeyFile,
		ServerName:         rc.ServerName,
		InsecureSkipVerify: rc.Insecure,
	}
	if err := hc.Validate(); err != nil {
		return sd, fmt.Errorf("kubernetes client config: %w", err)
	}
	sd.HTTPClientConfig = hc
	return sd, nil
}
