package kubernetes_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	amsconfig "github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate/sipgatetest"
)

type meta struct {
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace"`
	Labels    map[string]string `yaml:"labels"`
}

type deployment struct {
	Kind     string `yaml:"kind"`
	Metadata meta   `yaml:"metadata"`
	Spec     struct {
		Replicas int `yaml:"replicas"`
		Strategy struct {
			Type string `yaml:"type"`
		} `yaml:"strategy"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata meta    `yaml:"metadata"`
			Spec     podSpec `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type podSpec struct {
	TerminationGracePeriodSeconds *int `yaml:"terminationGracePeriodSeconds"`
	SecurityContext               struct {
		RunAsNonRoot *bool `yaml:"runAsNonRoot"`
		RunAsUser    *int  `yaml:"runAsUser"`
	} `yaml:"securityContext"`
	Containers []container `yaml:"containers"`
	Volumes    []volume    `yaml:"volumes"`
}

type container struct {
	Name  string   `yaml:"name"`
	Args  []string `yaml:"args"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	LivenessProbe   *probe `yaml:"livenessProbe"`
	ReadinessProbe  *probe `yaml:"readinessProbe"`
	SecurityContext struct {
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
	} `yaml:"securityContext"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

type volume struct {
	Name      string `yaml:"name"`
	ConfigMap *struct {
		Name string `yaml:"name"`
	} `yaml:"configMap"`
	Secret *struct {
		SecretName string `yaml:"secretName"`
	} `yaml:"secret"`
	PersistentVolumeClaim *struct {
		ClaimName string `yaml:"claimName"`
	} `yaml:"persistentVolumeClaim"`
}

type service struct {
	Kind     string `yaml:"kind"`
	Metadata meta   `yaml:"metadata"`
	Spec     struct {
		Selector map[string]string `yaml:"selector"`
		Ports    []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort string `yaml:"targetPort"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

type serviceMonitor struct {
	Kind     string `yaml:"kind"`
	Metadata meta   `yaml:"metadata"`
	Spec     struct {
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Endpoints []struct {
			Port string `yaml:"port"`
			Path string `yaml:"path"`
		} `yaml:"endpoints"`
	} `yaml:"spec"`
}

type configMap struct {
	Kind     string            `yaml:"kind"`
	Metadata meta              `yaml:"metadata"`
	Data     map[string]string `yaml:"data"`
}

type secret struct {
	Kind       string            `yaml:"kind"`
	Metadata   meta              `yaml:"metadata"`
	StringData map[string]string `yaml:"stringData"`
}

type pvc struct {
	Kind     string `yaml:"kind"`
	Metadata meta   `yaml:"metadata"`
}

// manifests are the example's objects, each from its own file.
type manifests struct {
	deployment     deployment
	service        service
	serviceMonitor serviceMonitor
	configMap      configMap
	secret         secret
	pvc            pvc
	networkPolicy  networkPolicy
}

type networkPolicy struct {
	Metadata meta `yaml:"metadata"`
	Spec     struct {
		PodSelector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"podSelector"`
		PolicyTypes []string `yaml:"policyTypes"`
		Ingress     []struct {
			From []struct {
				PodSelector struct {
					MatchLabels map[string]string `yaml:"matchLabels"`
				} `yaml:"podSelector"`
			} `yaml:"from"`
			Ports []struct {
				Port string `yaml:"port"`
			} `yaml:"ports"`
		} `yaml:"ingress"`
	} `yaml:"spec"`
}

// read decodes file, which must hold one object of kind, into into.
func read(t *testing.T, file, kind string, into any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var node yaml.Node
	if err := dec.Decode(&node); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if err := dec.Decode(&yaml.Node{}); !errors.Is(err, io.EOF) {
		t.Fatalf("%s: want one object, found more (%v)", file, err)
	}
	var head struct {
		Kind string `yaml:"kind"`
	}
	if err := node.Decode(&head); err != nil || head.Kind != kind {
		t.Fatalf("%s: kind %q (%v), want %s", file, head.Kind, err, kind)
	}
	if err := node.Decode(into); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

func readManifests(t *testing.T) *manifests {
	t.Helper()
	m := &manifests{}
	read(t, "deployment.yaml", "Deployment", &m.deployment)
	read(t, "service.yaml", "Service", &m.service)
	read(t, "servicemonitor.yaml", "ServiceMonitor", &m.serviceMonitor)
	read(t, "configmap.yaml", "ConfigMap", &m.configMap)
	read(t, "secret.yaml", "Secret", &m.secret)
	read(t, "pvc.yaml", "PersistentVolumeClaim", &m.pvc)
	read(t, "networkpolicy.yaml", "NetworkPolicy", &m.networkPolicy)
	if n := len(m.deployment.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("deployment.yaml: %d containers, want 1", n)
	}
	return m
}

func (m *manifests) container() container { return m.deployment.Spec.Template.Spec.Containers[0] }

// arg returns the value of the container's --name=value argument.
func (m *manifests) arg(name string) (string, bool) {
	for _, a := range m.container().Args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// mount returns the volume mounted at dir in the container.
func (m *manifests) mount(dir string) (volume, bool) {
	for _, vm := range m.container().VolumeMounts {
		if vm.MountPath != dir {
			continue
		}
		for _, v := range m.deployment.Spec.Template.Spec.Volumes {
			if v.Name == vm.Name {
				return v, true
			}
		}
	}
	return volume{}, false
}

// port returns the number of the container's port of that name.
func (m *manifests) port(name string) (int, bool) {
	for _, p := range m.container().Ports {
		if p.Name == name {
			return p.ContainerPort, true
		}
	}
	return 0, false
}

// config is the service config in the ConfigMap, which --config.file
// names through the ConfigMap's mount.
func (m *manifests) config(t *testing.T) string {
	t.Helper()
	file, ok := m.arg("config.file")
	if !ok {
		t.Fatal("deployment.yaml: no --config.file argument")
	}
	v, ok := m.mount(path.Dir(file))
	if !ok || v.ConfigMap == nil || v.ConfigMap.Name != m.configMap.Metadata.Name {
		t.Fatalf("deployment.yaml: --config.file=%s is not in a mount of ConfigMap %s", file, m.configMap.Metadata.Name)
	}
	config, ok := m.configMap.Data[path.Base(file)]
	if !ok {
		t.Fatalf("configmap.yaml: no key %s, which --config.file=%s names", path.Base(file), file)
	}
	return config
}

func TestKustomizationListsEveryManifest(t *testing.T) {
	var k struct {
		Resources []string `yaml:"resources"`
	}
	b, err := os.ReadFile("kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files = slices.DeleteFunc(files, func(f string) bool { return f == "kustomization.yaml" })
	slices.Sort(files)
	slices.Sort(k.Resources)
	if !slices.Equal(files, k.Resources) {
		t.Errorf("kustomization.yaml resources %q, want the manifests %q", k.Resources, files)
	}
}

func TestDeploymentIsLockedDown(t *testing.T) {
	m := readManifests(t)
	d, c := m.deployment, m.container()
	if d.Spec.Replicas != 1 || d.Spec.Strategy.Type != "Recreate" {
		t.Errorf("replicas %d, strategy %q: want 1 and Recreate, the ledger is a file of one instance", d.Spec.Replicas, d.Spec.Strategy.Type)
	}
	pod := d.Spec.Template.Spec
	if sc := pod.SecurityContext; sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
		t.Errorf("pod securityContext: want runAsNonRoot and a runAsUser other than 0")
	}
	if sc := c.SecurityContext; sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("container securityContext: want readOnlyRootFilesystem and no allowPrivilegeEscalation")
	}
	if !subset(d.Spec.Selector.MatchLabels, d.Spec.Template.Metadata.Labels) || len(d.Spec.Selector.MatchLabels) == 0 {
		t.Errorf("selector %v does not select the pod's labels %v", d.Spec.Selector.MatchLabels, d.Spec.Template.Metadata.Labels)
	}
	for name, p := range map[string]*probe{"/-/healthy": c.LivenessProbe, "/-/ready": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != name {
			t.Errorf("want a probe on %s", name)
			continue
		}
		if _, ok := m.port(p.HTTPGet.Port); !ok {
			t.Errorf("probe %s: port %q is not a port of the container", name, p.HTTPGet.Port)
		}
	}
	storage, ok := m.arg("storage.path")
	if v, mounted := m.mount(storage); !ok || !mounted || v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != m.pvc.Metadata.Name {
		t.Errorf("--storage.path=%q is not the mount of PersistentVolumeClaim %s: the root filesystem is read-only, and the ledger must survive restarts", storage, m.pvc.Metadata.Name)
	}
	m.config(t)
}

// TestGracePeriodCoversTheShutdown: on SIGTERM the service answers the
// notifications in flight, each within the server's write timeout (2 ×
// webhook.timeout + 5s, serverTimeouts in cmd/alertmanager-sipgate), while
// a digest under way hears its answer; a pod killed before loses what was
// sent but not recorded, and may page twice after its restart.
func TestGracePeriodCoversTheShutdown(t *testing.T) {
	m := readManifests(t)
	var config struct {
		Webhook struct {
			Timeout model.Duration `yaml:"timeout"`
		} `yaml:"webhook"`
	}
	if err := yaml.Unmarshal([]byte(m.config(t)), &config); err != nil {
		t.Fatal(err)
	}
	timeout := time.Duration(config.Webhook.Timeout)
	if timeout == 0 {
		timeout = 9 * time.Second // the default
	}
	grace := 30 * time.Second // Kubernetes' default
	if g := m.deployment.Spec.Template.Spec.TerminationGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	if drain := 2*timeout + 5*time.Second; grace < drain {
		t.Errorf("terminationGracePeriodSeconds %v, below the shutdown's %v for webhook.timeout %v", grace, drain, timeout)
	}
}

// TestSecretsComeFromTheSecret checks that every *_file of the config is a
// file of the Secret's mount, and no secret is written into the config.
func TestSecretsComeFromTheSecret(t *testing.T) {
	m := readManifests(t)
	files := secretFiles(t, m.config(t))
	if len(files) == 0 {
		t.Fatal("the config names no *_file: where do the token and the webhook password come from?")
	}
	for key, file := range files {
		v, ok := m.mount(path.Dir(file))
		if !ok || v.Secret == nil || v.Secret.SecretName != m.secret.Metadata.Name {
			t.Errorf("config %s: %s is not in a mount of Secret %s", key, file, m.secret.Metadata.Name)
			continue
		}
		if _, ok := m.secret.StringData[path.Base(file)]; !ok {
			t.Errorf("config %s: Secret %s has no key %s", key, m.secret.Metadata.Name, path.Base(file))
		}
	}
	for _, key := range []string{"token:", "password:", "bearer_token:"} {
		if regexp.MustCompile(`(?m)^\s*` + key).MatchString(m.config(t)) {
			t.Errorf("the config sets %s itself: secrets belong in the Secret", key)
		}
	}
}

// secretFiles returns the config's *_file values by their path of keys.
func secretFiles(t *testing.T, config string) map[string]string {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(config), &doc); err != nil {
		t.Fatalf("configmap.yaml config: %v", err)
	}
	files := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		for k, v := range m {
			if s, ok := v.(string); ok && strings.HasSuffix(k, "_file") {
				files[prefix+k] = s
			}
			walk(prefix+k+".", v)
		}
	}
	walk("", doc)
	return files
}

func TestServiceAndServiceMonitorReachThePod(t *testing.T) {
	m := readManifests(t)
	svc, sm := m.service, m.serviceMonitor
	if !subset(svc.Spec.Selector, m.deployment.Spec.Template.Metadata.Labels) || len(svc.Spec.Selector) == 0 {
		t.Errorf("service.yaml: selector %v does not select the pod's labels", svc.Spec.Selector)
	}
	if len(svc.Spec.Ports) != 1 {
		t.Fatalf("service.yaml: %d ports, want 1", len(svc.Spec.Ports))
	}
	sp := svc.Spec.Ports[0]
	if _, ok := m.port(sp.TargetPort); !ok {
		t.Errorf("service.yaml: targetPort %q is not a port of the container", sp.TargetPort)
	}
	if !subset(sm.Spec.Selector.MatchLabels, svc.Metadata.Labels) || len(sm.Spec.Selector.MatchLabels) == 0 {
		t.Errorf("servicemonitor.yaml: selector %v does not select the Service's labels %v", sm.Spec.Selector.MatchLabels, svc.Metadata.Labels)
	}
	if sm.Metadata.Namespace != svc.Metadata.Namespace {
		t.Errorf("servicemonitor.yaml: namespace %q, the Service is in %q", sm.Metadata.Namespace, svc.Metadata.Namespace)
	}
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != sp.Name || sm.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("servicemonitor.yaml: endpoints %+v, want port %q path /metrics", sm.Spec.Endpoints, sp.Name)
	}
}

// alertmanagerConfig is the part of alertmanager.yml that says where the
// webhook posts and with what credentials.
type alertmanagerConfig struct {
	Route struct {
		Receiver string `yaml:"receiver"`
	} `yaml:"route"`
	Receivers []struct {
		Name           string `yaml:"name"`
		WebhookConfigs []struct {
			URL          string `yaml:"url"`
			SendResolved bool   `yaml:"send_resolved"`
			MaxAlerts    int    `yaml:"max_alerts"`
			HTTPConfig   struct {
				BasicAuth *struct {
					Username     string `yaml:"username"`
					PasswordFile string `yaml:"password_file"`
				} `yaml:"basic_auth"`
			} `yaml:"http_config"`
		} `yaml:"webhook_configs"`
	} `yaml:"receivers"`
}

// TestAlertmanagerReceiverPostsToTheService follows the receiver
// snippet's URL to the Service and its credentials to the service's config.
func TestAlertmanagerReceiverPostsToTheService(t *testing.T) {
	m := readManifests(t)
	b, err := os.ReadFile("alertmanager.yml")
	if err != nil {
		t.Fatal(err)
	}
	var am alertmanagerConfig
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&am); err != nil {
		t.Fatalf("alertmanager.yml: %v", err)
	}
	if len(am.Receivers) != 1 || len(am.Receivers[0].WebhookConfigs) != 1 || am.Route.Receiver != am.Receivers[0].Name {
		t.Fatalf("alertmanager.yml: want one receiver with one webhook, the route's receiver: %+v", am)
	}
	w := am.Receivers[0].WebhookConfigs[0]
	u, err := neturl.Parse(w.URL)
	if err != nil {
		t.Fatalf("alertmanager.yml: url: %v", err)
	}
	svc := m.service
	if want := svc.Metadata.Name + "." + svc.Metadata.Namespace + ".svc"; u.Hostname() != want {
		t.Errorf("webhook host %q, want the Service %s", u.Hostname(), want)
	}
	if u.Scheme != "http" || u.Port() != strconv.Itoa(svc.Spec.Ports[0].Port) || u.Path != "/api/v1/alerts" {
		t.Errorf("webhook URL %s: want http, port %d and path /api/v1/alerts", u, svc.Spec.Ports[0].Port)
	}
	ba := w.HTTPConfig.BasicAuth
	if ba == nil {
		t.Fatal("alertmanager.yml: the webhook sends no basic auth, the service's config wants it")
	}
	var config struct {
		Webhook struct {
			MaxBodyBytes int64 `yaml:"max_body_bytes"`
			BasicAuth    struct {
				Username     string `yaml:"username"`
				PasswordFile string `yaml:"password_file"`
			} `yaml:"basic_auth"`
		} `yaml:"webhook"`
	}
	if err := yaml.Unmarshal([]byte(m.config(t)), &config); err != nil {
		t.Fatal(err)
	}
	if ba.Username != config.Webhook.BasicAuth.Username {
		t.Errorf("webhook user %q, the service's config wants %q", ba.Username, config.Webhook.BasicAuth.Username)
	}
	if path.Base(ba.PasswordFile) != path.Base(config.Webhook.BasicAuth.PasswordFile) {
		t.Errorf("webhook password_file %s, want the Secret's key %s", ba.PasswordFile, path.Base(config.Webhook.BasicAuth.PasswordFile))
	}
	// A body over max_body_bytes is answered 413, which Alertmanager does
	// not retry: the group of a storm must fit, cut by max_alerts.
	maxBody := config.Webhook.MaxBodyBytes
	if maxBody == 0 {
		maxBody = amsconfig.DefaultMaxBodyBytes
	}
	if w.MaxAlerts <= 0 || int64(w.MaxAlerts)*largeAlertBytes > maxBody {
		t.Errorf("webhook max_alerts %d: want alerts of %d bytes to fit the service's max_body_bytes %d", w.MaxAlerts, largeAlertBytes, maxBody)
	}
}

// largeAlertBytes is a large alert in a webhook's body: one of Kubernetes'
// alerts, many labels and a long description, takes 1.5 to 2.5 KB.
const largeAlertBytes = 4096

func subset(sub, of map[string]string) bool {
	for k, v := range sub {
		if of[k] != v {
			return false
		}
	}
	return true
}

// buildBinary builds the service from this checkout into a temporary
// directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the service")
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "alertmanager-sipgate")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/alertmanager-sipgate")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(out)))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the service: %v\n%s", err, out)
	}
	return bin
}

// flagDefault matches a flag with its default in kingpin's help:
// "--web.listen-address=:9876 ...".
var flagDefault = regexp.MustCompile(`--(?:\[no-\])?([a-z0-9.-]+)(?:=(\S*))?`)

// defaultCommand matches the default command in kingpin's help, the one
// marked with a star: "serve* [<flags>]".
var defaultCommand = regexp.MustCompile(`(?m)^([a-z][a-z-]*)\* `)

// commandFlags returns the command the container's arguments run (their
// first argument, unless it is a flag: then the binary's default command)
// and that command's flags with their defaults, from its --help.
func commandFlags(t *testing.T, bin string, args []string) (string, map[string]string) {
	t.Helper()
	help := func(args ...string) string {
		out, err := exec.Command(bin, append(args, "--help")...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s --help: %v\n%s", bin, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	var command string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		command = args[0]
	} else if m := defaultCommand.FindStringSubmatch(help()); m != nil {
		command = m[1]
	}
	var text string
	if command == "" {
		text = help()
	} else {
		text = help(command)
	}
	flags := map[string]string{}
	for _, f := range flagDefault.FindAllStringSubmatch(text, -1) {
		flags[f[1]] = f[2]
	}
	return command, flags
}

// TestManifestsAgreeWithTheBinary builds the service, checks the
// Deployment's flags and port against its --help, has it check the
// ConfigMap's config with the Secret's files as the Deployment's
// arguments load it, and runs it with those arguments to probe the paths
// of its probes.
func TestManifestsAgreeWithTheBinary(t *testing.T) {
	m := readManifests(t)
	bin := buildBinary(t)
	command, flags := commandFlags(t, bin, m.container().Args)
	for _, a := range m.container().Args {
		if a == command {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if _, ok := flags[name]; !ok || !strings.HasPrefix(a, "--") {
			t.Errorf("deployment.yaml: argument %q is not a flag of the binary's %s command (flags %v)", a, command, slices.Sorted(maps.Keys(flags)))
		}
	}
	listen, ok := m.arg("web.listen-address")
	if !ok {
		listen = flags["web.listen-address"]
	}
	if _, port, err := net.SplitHostPort(listen); err != nil || port != strconv.Itoa(mustPort(t, m, "http")) {
		t.Errorf("the service listens on %q (%v), the container's http port is %d", listen, err, mustPort(t, m, "http"))
	}

	config, dir := localConfig(t, m)
	args := localArgs(m, config, dir, "127.0.0.1:0")
	out, err := exec.Command(bin, append(args, "--config.check")...).CombinedOutput()
	if err != nil {
		t.Fatalf("the Deployment's arguments with --config.check reject the ConfigMap's config: %v\n%s", err, out)
	}
	probeTheBinary(t, m, bin, config, dir)
}

func mustPort(t *testing.T, m *manifests, name string) int {
	t.Helper()
	p, ok := m.port(name)
	if !ok {
		t.Fatalf("deployment.yaml: no container port %q", name)
	}
	return p
}

// localConfig writes the ConfigMap's config and the Secret's files into a
// temporary directory laid out as the Deployment mounts them, with sipgate
// a fake on 127.0.0.1 that takes the Secret's token, and returns the
// config file and the directory.
func localConfig(t *testing.T, m *manifests) (string, string) {
	t.Helper()
	dir := t.TempDir()
	config := m.config(t)
	for _, file := range secretFiles(t, config) {
		local := filepath.Join(dir, filepath.FromSlash(file))
		if err := os.MkdirAll(filepath.Dir(local), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(local, []byte(m.secret.StringData[path.Base(file)]), 0o600); err != nil {
			t.Fatal(err)
		}
		config = strings.ReplaceAll(config, file, local)
	}
	var sipgate struct {
		Sipgate struct {
			TokenID string `yaml:"token_id"`
		} `yaml:"sipgate"`
	}
	if err := yaml.Unmarshal([]byte(config), &sipgate); err != nil {
		t.Fatal(err)
	}
	fake := sipgatetest.NewServer(sipgate.Sipgate.TokenID, m.secret.StringData["sipgate-token"])
	t.Cleanup(fake.Close)
	// Nothing leaves the machine: sipgate is the fake.
	config, ok := strings.CutPrefix(config, "sipgate:\n")
	if !ok {
		t.Fatal("configmap.yaml: the config does not begin with its sipgate section")
	}
	config = fmt.Sprintf("sipgate:\n  url: %s\n%s", fake.URL, config)
	file, _ := m.arg("config.file")
	local := filepath.Join(dir, filepath.FromSlash(file))
	if err := os.MkdirAll(filepath.Dir(local), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(local, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return local, dir
}

// probeTheBinary runs the service with the Deployment's arguments, the
// paths under dir and its address on 127.0.0.1, and wants 200 from the
// paths of both probes.
func probeTheBinary(t *testing.T, m *manifests, bin, config, dir string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	args := localArgs(m, config, dir, addr)
	var output bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("service output:\n%s", output.String())
		}
	}()
	c := m.container()
	for _, p := range []*probe{c.ReadinessProbe, c.LivenessProbe} {
		url := (&neturl.URL{Scheme: "http", Host: addr, Path: p.HTTPGet.Path}).String()
		waitOK(t, url, exited)
	}
}

// localArgs are the Deployment's arguments with the config file, the
// storage under dir and the listen address addr, so that the service runs
// here as it would in the pod.
func localArgs(m *manifests, config, dir, addr string) []string {
	var args []string
	for _, a := range m.container().Args {
		name, value, hasValue := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !strings.HasPrefix(a, "--") || !hasValue {
			args = append(args, a) // the command, or a flag without a value
			continue
		}
		switch name {
		case "config.file":
			value = config
		case "storage.path":
			value = filepath.Join(dir, filepath.FromSlash(value))
		case "web.listen-address":
			value = addr
		}
		args = append(args, "--"+name+"="+value)
	}
	if _, ok := m.arg("web.listen-address"); !ok {
		args = append(args, "--web.listen-address="+addr)
	}
	return args
}

// waitOK waits until url answers 200, failing if the service exits or
// 20 s pass.
func waitOK(t *testing.T, url string, exited chan error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	last := ""
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("the service exited before %s answered 200: %v", url, err)
		case <-tick.C:
		}
		resp, err := http.Get(url)
		if err != nil {
			last = err.Error()
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return
		}
		last = resp.Status
	}
	t.Fatalf("%s did not answer 200 within 20s: %s", url, last)
}

// TestNetworkPolicyLetsInOnlyAlertmanagerAndPrometheus: the policy selects
// the Deployment's pod in its namespace and opens its one port to
// Alertmanager and Prometheus only, since the admin endpoints have no auth
// of their own in these manifests.
func TestNetworkPolicyLetsInOnlyAlertmanagerAndPrometheus(t *testing.T) {
	m := readManifests(t)
	np := m.networkPolicy
	if np.Metadata.Namespace != m.deployment.Metadata.Namespace {
		t.Errorf("namespace %q, want the Deployment's %q", np.Metadata.Namespace, m.deployment.Metadata.Namespace)
	}
	if len(np.Spec.PodSelector.MatchLabels) == 0 || !subset(np.Spec.PodSelector.MatchLabels, m.deployment.Spec.Template.Metadata.Labels) {
		t.Errorf("podSelector %v does not select the pod's labels %v", np.Spec.PodSelector.MatchLabels, m.deployment.Spec.Template.Metadata.Labels)
	}
	if !slices.Equal(np.Spec.PolicyTypes, []string{"Ingress"}) || len(np.Spec.Ingress) != 1 {
		t.Fatalf("policyTypes %v with %d ingress rules, want Ingress with one rule", np.Spec.PolicyTypes, len(np.Spec.Ingress))
	}
	rule := np.Spec.Ingress[0]
	var from []string
	for _, f := range rule.From {
		from = append(from, f.PodSelector.MatchLabels["app.kubernetes.io/name"])
	}
	if slices.Sort(from); !slices.Equal(from, []string{"alertmanager", "prometheus"}) {
		t.Errorf("ingress from %v, want alertmanager and prometheus pods", from)
	}
	ports := m.container().Ports
	if len(rule.Ports) != 1 || len(ports) != 1 || rule.Ports[0].Port != ports[0].Name {
		t.Errorf("ingress ports %+v, want the container's one port by name %+v", rule.Ports, ports)
	}
}
