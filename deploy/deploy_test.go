package deploy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// TestYAMLFilesParse decodes every document of every YAML file in deploy/.
func TestYAMLFilesParse(t *testing.T) {
	files := yamlFiles(t, ".")
	if len(files) < 5 {
		t.Fatalf("found only %d YAML files: %v", len(files), files)
	}
	for _, f := range files {
		if docs := readYAML(t, f); len(docs) == 0 {
			t.Errorf("%s: no YAML document", f)
		}
	}
}

// metricsPort is the port the image EXPOSEs; every artifact must use it.
func metricsPort(t *testing.T) string {
	t.Helper()
	for _, in := range dockerfile(t)[len(dockerfile(t))-1].Instrs {
		if in.Cmd == "EXPOSE" {
			return strings.TrimSuffix(strings.Fields(in.Args)[0], "/tcp")
		}
	}
	t.Fatal("deploy/Dockerfile: final stage EXPOSEs no port")
	return ""
}

func dockerfile(t *testing.T) []*dockerStage {
	t.Helper()
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	return parseDockerfile(string(data))
}

// portOf returns the port of a HOST:PORT address.
func portOf(addr string) string {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return p
}

// ---------- Dockerfile and Makefile ----------

// makeBuild returns the Makefile's `build` target as a goBuild.
func makeBuild(t *testing.T) *goBuild {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(), "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	mk := parseMakefile(string(data))
	var found *goBuild
	for _, line := range mk.Recipes["build"] {
		words, err := shellWords(mk.expand(line))
		if err != nil {
			t.Fatalf("Makefile build: %v", err)
		}
		for _, c := range commands(words) {
			if b, ok := parseGoBuild(c); ok {
				if found != nil {
					t.Fatal("Makefile build: more than one go build")
				}
				found = b
			}
		}
	}
	if found == nil {
		t.Fatalf("Makefile: no go build in the build target (recipe %q)", mk.Recipes["build"])
	}
	return found
}

func TestDockerfileBuildsLikeMake(t *testing.T) {
	want := makeBuild(t)
	stages := dockerfile(t)
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stage(s), want a multi-stage build", len(stages))
	}

	var got *goBuild
	var builder *dockerStage
	for _, st := range stages {
		env := map[string]string{}
		for _, in := range st.Instrs {
			switch in.Cmd {
			case "ENV":
				for _, kv := range strings.Fields(in.Args) {
					if k, v, ok := strings.Cut(kv, "="); ok {
						env[k] = v
					}
				}
			case "RUN":
				words, err := shellWords(runCommand(in.Args))
				if err != nil {
					t.Fatalf("Dockerfile RUN: %v", err)
				}
				for _, c := range commands(words) {
					b, ok := parseGoBuild(c)
					if !ok {
						continue
					}
					if got != nil {
						t.Fatal("Dockerfile: more than one go build")
					}
					for k, v := range env {
						if _, set := b.Env[k]; !set {
							b.Env[k] = v
						}
					}
					got, builder = b, st
				}
			}
		}
	}
	if got == nil {
		t.Fatal("Dockerfile: no RUN ... go build")
	}
	if g, w := strings.Join(got.Packages, " "), strings.Join(want.Packages, " "); g != w {
		t.Errorf("Dockerfile builds %q, Makefile builds %q", g, w)
	}
	if g, w := strings.Join(got.Flags, " "), strings.Join(want.Flags, " "); g != w {
		t.Errorf("Dockerfile go build flags %q, Makefile %q", g, w)
	}
	if got.Env["CGO_ENABLED"] != "0" || want.Env["CGO_ENABLED"] != "0" {
		t.Errorf("CGO_ENABLED: Dockerfile %q, Makefile %q; both must be 0 for a static binary", got.Env["CGO_ENABLED"], want.Env["CGO_ENABLED"])
	}
	if !strings.Contains(strings.Join(want.Flags, " "), "-trimpath") {
		t.Errorf("Makefile build lacks -trimpath: %v", want.Flags)
	}

	// The builder's Go is the one go.mod asks for.
	gomod, err := os.ReadFile(filepath.Join(repoRoot(), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if goLine == nil {
		t.Fatal("go.mod: no go directive")
	}
	if img := builder.From; !strings.HasPrefix(img, "golang:"+string(goLine[1])) {
		t.Errorf("builder image %q, want golang:%s (go.mod)", img, goLine[1])
	}

	// The final stage: static, non-root, the binaries at the entrypoint.
	final := stages[len(stages)-1]
	if !strings.HasPrefix(final.From, "gcr.io/distroless/static") && final.From != "scratch" {
		t.Errorf("final stage FROM %q, want distroless static or scratch", final.From)
	}
	var user, entry string
	copiedOut := false
	for _, in := range final.Instrs {
		switch in.Cmd {
		case "USER":
			user = in.Args
		case "ENTRYPOINT":
			entry = in.Args
		case "COPY":
			f := strings.Fields(in.Args)
			if len(f) == 3 && f[0] == "--from="+builder.Name && filepath.Clean(f[1]) == filepath.Clean(got.Output) &&
				f[2] == "/usr/local/bin/" {
				copiedOut = true
			}
		}
	}
	if uid, _, _ := strings.Cut(user, ":"); uid != "65532" {
		t.Errorf("final USER %q, want numeric 65532 (runAsNonRoot can only verify a numeric user)", user)
	}
	if !copiedOut {
		t.Errorf("final stage does not COPY --from=%s %s /usr/local/bin/", builder.Name, got.Output)
	}
	if entry != `["/usr/local/bin/ingest"]` {
		t.Errorf("ENTRYPOINT %s, want [\"/usr/local/bin/ingest\"]", entry)
	}
	if _, err := os.Stat(filepath.Join(repoRoot(), "cmd", "ingest")); err != nil {
		t.Errorf("ENTRYPOINT runs ingest but ./cmd/ingest is missing: %v", err)
	}
	metricsPort(t)

	// The build context never carries secrets or the git history.
	ignore, err := os.ReadFile("Dockerfile.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".git", "**/.env"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `$`).Match(ignore) {
			t.Errorf("Dockerfile.dockerignore does not exclude %s", want)
		}
	}
}

// ---------- docker-compose.yml ----------

func composeFile(t *testing.T) map[string]any {
	t.Helper()
	docs := readYAML(t, "docker-compose.yml")
	if len(docs) != 1 {
		t.Fatalf("docker-compose.yml: %d documents, want 1", len(docs))
	}
	return docs[0].Value
}

// envKeys returns the names of a compose/k8s-style environment (map or list).
func envKeys(v any) []string {
	var keys []string
	switch e := v.(type) {
	case map[string]any:
		for k := range e {
			keys = append(keys, k)
		}
	case []any:
		for _, x := range e {
			if m, ok := x.(map[string]any); ok {
				keys = append(keys, str(m, "name"))
				continue
			}
			k, _, _ := strings.Cut(fmt.Sprint(x), "=")
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func TestCompose(t *testing.T) {
	c := ingestCLI(t)
	port := metricsPort(t)
	services := mapping(composeFile(t), "services")

	// Kafka in KRaft mode and a current ClickHouse.
	kafka, ch := services["kafka"], services["clickhouse"]
	if img := str(kafka, "image"); !strings.HasPrefix(img, "apache/kafka:") {
		t.Errorf("kafka image %q, want apache/kafka", img)
	}
	if roles := str(kafka, "environment", "KAFKA_PROCESS_ROLES"); !strings.Contains(roles, "controller") {
		t.Errorf("kafka KAFKA_PROCESS_ROLES %q: not KRaft", roles)
	}
	if _, zk := services["zookeeper"]; zk {
		t.Error("compose runs ZooKeeper; Kafka should run in KRaft mode")
	}
	if img := str(ch, "image"); !strings.HasPrefix(img, "clickhouse/clickhouse-server:") {
		t.Errorf("clickhouse image %q, want clickhouse/clickhouse-server", img)
	}

	used := map[string]bool{}
	for name, svc := range services {
		if str(svc, "build", "dockerfile") != "deploy/Dockerfile" {
			continue
		}
		where := "docker-compose.yml: " + name
		if str(svc, "build", "context") != ".." {
			t.Errorf("%s: build context %q, want the repository root (..)", where, str(svc, "build", "context"))
		}
		if get(svc, "entrypoint") != nil {
			t.Errorf("%s: overrides the image's entrypoint", where)
		}
		cmdName, flags, problems := c.checkArgs(where, toStrings(list(svc, "command")))
		for _, p := range problems {
			t.Error(p)
		}
		used[cmdName] = true
		for _, k := range envKeys(get(svc, "environment")) {
			if !c.readsEnv(k) {
				t.Errorf("%s: environment variable %s is read by no ingest command", where, k)
			}
		}
		if p := portOf(flags["metrics-addr"]); p != port {
			t.Errorf("%s: --metrics-addr %q, want port %s (the image's EXPOSE)", where, flags["metrics-addr"], port)
		}
		if hc := strings.Join(toStrings(list(svc, "healthcheck", "test")), " "); !strings.Contains(hc, ":"+port+"/healthz") {
			t.Errorf("%s: healthcheck %q does not probe /healthz on port %s", where, hc, port)
		}
		if str(svc, "read_only") != "true" || strings.Join(toStrings(list(svc, "cap_drop")), ",") != "ALL" ||
			!strings.HasPrefix(str(svc, "user"), "65532") {
			t.Errorf("%s: want read_only: true, cap_drop: [ALL], user 65532", where)
		}
		if cmdName == "collect" && flags["checkpoint"] == "" {
			t.Errorf("%s: --checkpoint not chosen", where)
		}
	}
	if !used["collect"] || !used["sink"] {
		t.Errorf("compose runs commands %v, want collect and sink from deploy/Dockerfile", used)
	}

	// References between services and to named volumes resolve.
	volumes := mapping(composeFile(t), "volumes")
	for name, svc := range services {
		for dep := range mapping(svc, "depends_on") {
			if _, ok := services[dep]; !ok {
				t.Errorf("docker-compose.yml: %s depends on unknown service %s", name, dep)
			}
			if cond := str(svc, "depends_on", dep, "condition"); cond == "service_healthy" && get(services[dep], "healthcheck") == nil {
				t.Errorf("docker-compose.yml: %s waits for %s to be healthy, which has no healthcheck", name, dep)
			}
		}
		for _, v := range toStrings(list(svc, "volumes")) {
			src, _, _ := strings.Cut(v, ":")
			if !strings.HasPrefix(src, ".") && !strings.HasPrefix(src, "/") {
				if _, ok := volumes[src]; !ok {
					t.Errorf("docker-compose.yml: %s mounts undeclared volume %s", name, src)
				}
			}
		}
	}
}

// TestEnvExample checks deploy/.env.example against the variables the compose
// file interpolates: every one is documented and every documented one used.
func TestEnvExample(t *testing.T) {
	data, err := os.ReadFile(".env.example")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, _, ok := strings.Cut(l, "=")
		if !ok {
			t.Errorf(".env.example: %q is not KEY=value", l)
			continue
		}
		documented[k] = true
	}
	compose, err := os.ReadFile("docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	referenced := map[string]bool{}
	for _, m := range regexp.MustCompile(`\$\{([A-Z_][A-Z0-9_]*)`).FindAllStringSubmatch(string(compose), -1) {
		referenced[m[1]] = true
	}
	for k := range referenced {
		if !documented[k] {
			t.Errorf("docker-compose.yml uses ${%s}, not in .env.example", k)
		}
	}
	for k := range documented {
		if !referenced[k] {
			t.Errorf(".env.example sets %s, which docker-compose.yml never uses", k)
		}
	}
}

// ---------- Kubernetes ----------

type k8sObject struct {
	File string
	Kind string
	Name string
	Doc  map[string]any
}

func kubernetesObjects(t *testing.T) []k8sObject {
	t.Helper()
	var objs []k8sObject
	for _, f := range yamlFiles(t, "kubernetes") {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		for _, d := range readYAML(t, f) {
			objs = append(objs, k8sObject{File: f, Kind: str(d.Value, "kind"), Name: str(d.Value, "metadata", "name"), Doc: d.Value})
		}
	}
	return objs
}

func TestKubernetes(t *testing.T) {
	c := ingestCLI(t)
	port := metricsPort(t)
	objs := kubernetesObjects(t)
	shutdown := durationFlagDefault(t, c, "shutdown-timeout")

	// kustomization.yaml lists exactly the manifests.
	kust := readYAML(t, "kubernetes/kustomization.yaml")[0].Value
	listed := map[string]bool{}
	for _, r := range toStrings(list(kust, "resources")) {
		listed[filepath.Join("kubernetes", r)] = true
	}
	files := map[string]bool{}
	for _, o := range objs {
		files[o.File] = true
	}
	for f := range files {
		if !listed[f] {
			t.Errorf("kustomization.yaml does not list %s", f)
		}
	}
	for f := range listed {
		if !files[f] {
			t.Errorf("kustomization.yaml lists %s, which does not exist", f)
		}
	}

	byKind := map[string]map[string]k8sObject{}
	for _, o := range objs {
		if o.Kind == "" || o.Name == "" || str(o.Doc, "apiVersion") == "" {
			t.Errorf("%s: object without apiVersion, kind or metadata.name", o.File)
		}
		if ns := str(o.Doc, "metadata", "namespace"); ns != "" {
			t.Errorf("%s: %s/%s sets namespace %q; manifests are namespace-less", o.File, o.Kind, o.Name, ns)
		}
		if byKind[o.Kind] == nil {
			byKind[o.Kind] = map[string]k8sObject{}
		}
		byKind[o.Kind][o.Name] = o
	}
	secretKeys := func(name string) map[string]bool {
		keys := map[string]bool{}
		s, ok := byKind["Secret"][name]
		if !ok {
			return nil
		}
		for k := range mapping(s.Doc, "stringData") {
			keys[k] = true
		}
		for k := range mapping(s.Doc, "data") {
			keys[k] = true
		}
		return keys
	}

	commandsRun := map[string]k8sObject{}
	checkedCM := map[string]bool{}
	for _, dep := range byKind["Deployment"] {
		pod := get(dep.Doc, "spec", "template", "spec")
		where := fmt.Sprintf("%s: Deployment %s", dep.File, dep.Name)
		if str(pod, "securityContext", "runAsNonRoot") != "true" {
			t.Errorf("%s: pod securityContext.runAsNonRoot is not true", where)
		}
		if g, err := strconv.Atoi(str(pod, "terminationGracePeriodSeconds")); err != nil || time.Duration(g)*time.Second <= shutdown {
			t.Errorf("%s: terminationGracePeriodSeconds %q must exceed --shutdown-timeout (%v)", where, str(pod, "terminationGracePeriodSeconds"), shutdown)
		}
		labels := mapping(dep.Doc, "spec", "template", "metadata", "labels")
		for k, v := range mapping(dep.Doc, "spec", "selector", "matchLabels") {
			if labels[k] != v {
				t.Errorf("%s: selector %s=%v does not match the pod labels", where, k, v)
			}
		}
		volumes := map[string]map[string]any{}
		for _, v := range list(pod, "volumes") {
			volumes[str(v, "name")] = v.(map[string]any)
		}
		containers := append(append([]any{}, list(pod, "initContainers")...), list(pod, "containers")...)
		nInit := len(list(pod, "initContainers"))
		for i, ctr := range containers {
			cwhere := where + " container " + str(ctr, "name")
			if str(ctr, "image") != "tokentrail" {
				t.Errorf("%s: image %q, want \"tokentrail\" (kustomization's images: sets the registry)", cwhere, str(ctr, "image"))
				continue
			}
			if get(ctr, "command") != nil {
				t.Errorf("%s: overrides the image's entrypoint", cwhere)
			}
			cmdName, flags, problems := c.checkArgs(cwhere, toStrings(list(ctr, "args")))
			for _, p := range problems {
				t.Error(p)
			}
			sc := get(ctr, "securityContext")
			if str(sc, "allowPrivilegeEscalation") != "false" || str(sc, "readOnlyRootFilesystem") != "true" ||
				strings.Join(toStrings(list(sc, "capabilities", "drop")), ",") != "ALL" {
				t.Errorf("%s: securityContext must set allowPrivilegeEscalation false, readOnlyRootFilesystem true, drop ALL", cwhere)
			}
			for _, e := range list(ctr, "env") {
				name := str(e, "name")
				if !c.readsEnv(name) {
					t.Errorf("%s: environment variable %s is read by no ingest command", cwhere, name)
				}
				if ref := get(e, "valueFrom", "secretKeyRef"); ref != nil {
					if keys := secretKeys(str(ref, "name")); keys == nil || !keys[str(ref, "key")] {
						t.Errorf("%s: %s refers to secret %s key %s, which the manifests do not define", cwhere, name, str(ref, "name"), str(ref, "key"))
					}
				}
			}
			if cfg := flags["config"]; cfg != "" {
				checkMountedConfig(t, c, cwhere, cfg, ctr, volumes, byKind["ConfigMap"], checkedCM)
			}
			if i < nInit {
				continue // init containers run to completion: no probes or ports
			}
			commandsRun[cmdName] = dep
			if p := portOf(flags["metrics-addr"]); p != port {
				t.Errorf("%s: --metrics-addr %q, want port %s", cwhere, flags["metrics-addr"], port)
			}
			var portName string
			for _, p := range list(ctr, "ports") {
				if str(p, "containerPort") == port {
					portName = str(p, "name")
				}
			}
			if portName == "" {
				t.Errorf("%s: no named containerPort %s", cwhere, port)
			}
			for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
				if str(ctr, probe, "httpGet", "path") != path || (str(ctr, probe, "httpGet", "port") != portName && str(ctr, probe, "httpGet", "port") != port) {
					t.Errorf("%s: %s must GET %s on the metrics port", cwhere, probe, path)
				}
			}
			switch cmdName {
			case "collect":
				if str(dep.Doc, "spec", "replicas") != "1" || str(dep.Doc, "spec", "strategy", "type") != "Recreate" {
					t.Errorf("%s: the collector needs replicas: 1 and strategy Recreate", where)
				}
				if flags["checkpoint"] != "kafka" {
					t.Errorf("%s: the collector must keep checkpoints in Kafka (--checkpoint=kafka), got %q", where, flags["checkpoint"])
				}
			case "sink":
				if r, _ := strconv.Atoi(str(dep.Doc, "spec", "replicas")); r < 2 {
					t.Errorf("%s: sink replicas %d, want at least 2", where, r)
				}
			}
		}
	}
	if commandsRun["collect"].Name == "" || commandsRun["sink"].Name == "" {
		t.Fatalf("Deployments run %v, want collect and sink", commandsRun)
	}

	for _, hpa := range byKind["HorizontalPodAutoscaler"] {
		if ref := str(hpa.Doc, "spec", "scaleTargetRef", "name"); ref != commandsRun["sink"].Name {
			t.Errorf("%s: HPA scales %q; only the sink (%s) may scale", hpa.File, ref, commandsRun["sink"].Name)
		}
	}

	// Each metrics Service selects a Deployment's pods on its metrics port.
	for _, want := range []string{"collect", "sink"} {
		dep := commandsRun[want]
		labels := mapping(dep.Doc, "spec", "template", "metadata", "labels")
		found := false
		for _, svc := range byKind["Service"] {
			sel := mapping(svc.Doc, "spec", "selector")
			match := len(sel) > 0
			for k, v := range sel {
				match = match && labels[k] == v
			}
			if !match {
				continue
			}
			for _, p := range list(svc.Doc, "spec", "ports") {
				if str(p, "targetPort") == "metrics" || str(p, "targetPort") == port {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("no Service exposes the metrics port of Deployment %s", dep.Name)
		}
	}
}

// checkMountedConfig checks that --config points into a mounted ConfigMap
// key and that the file's keys are real flags.
func checkMountedConfig(t *testing.T, c *cli, where, path string, ctr any, volumes map[string]map[string]any, cms map[string]k8sObject, checked map[string]bool) {
	t.Helper()
	for _, m := range list(ctr, "volumeMounts") {
		dir := str(m, "mountPath")
		if filepath.Dir(path) != filepath.Clean(dir) {
			continue
		}
		vol := volumes[str(m, "name")]
		cm, ok := cms[str(vol, "configMap", "name")]
		if !ok {
			t.Errorf("%s: --config %s is not on a ConfigMap volume defined here", where, path)
			return
		}
		data, ok := mapping(cm.Doc, "data")[filepath.Base(path)].(string)
		if checked[cm.Name+"/"+filepath.Base(path)] {
			return
		}
		checked[cm.Name+"/"+filepath.Base(path)] = true
		if !ok {
			t.Errorf("%s: ConfigMap %s has no key %s", where, cm.Name, filepath.Base(path))
			return
		}
		var cfg map[string]any
		if err := yaml.Unmarshal([]byte(data), &cfg); err != nil {
			t.Errorf("%s: ConfigMap %s %s: %v", where, cm.Name, filepath.Base(path), err)
			return
		}
		for _, p := range checkConfigKeys(c, "ConfigMap "+cm.Name, cfg) {
			t.Error(p)
		}
		return
	}
	t.Errorf("%s: --config %s is not inside any volumeMount", where, path)
}

// durationFlagDefault returns a global duration flag's default.
func durationFlagDefault(t *testing.T, c *cli, name string) time.Duration {
	t.Helper()
	f, ok := c.Root.Flags[name]
	if !ok {
		t.Fatalf("ingest has no global --%s", name)
	}
	d, err := time.ParseDuration(strings.Trim(f.Value, `"`))
	if err != nil {
		t.Fatalf("--%s default %q: %v", name, f.Value, err)
	}
	return d
}

// ---------- the sample configuration ----------

// configOnlyKeys are config-file keys that are not flags: the collector's
// tenants list (TestConfigTenantsKeyIsRead proves the binary reads it).
var configOnlyKeys = map[string]bool{"tenants": true}

// checkConfigKeys checks a config file's keys: each is a flag of some
// command (globals included), a section named after a command whose keys
// are that command's flags, or one of configOnlyKeys. Boolean flags must
// have boolean values.
func checkConfigKeys(c *cli, where string, cfg map[string]any) []string {
	var problems []string
	check := func(cmds map[string]*command, key string, value any) {
		found := false
		for _, cmd := range cmds {
			f, ok := cmd.Flags[key]
			if !ok {
				continue
			}
			found = true
			if _, isBool := value.(bool); !f.takesValue() && !isBool {
				problems = append(problems, fmt.Sprintf("%s: key %s is a boolean flag, given %v", where, key, value))
				return
			}
		}
		if !found {
			problems = append(problems, fmt.Sprintf("%s: key %q is not a flag of any ingest command", where, key))
		}
	}
	for k, v := range cfg {
		if cmd, ok := c.Commands[k]; ok {
			sub, _ := v.(map[string]any)
			for sk, sv := range sub {
				check(map[string]*command{k: cmd}, sk, sv)
			}
			continue
		}
		if k == "help" || k == "config" {
			problems = append(problems, fmt.Sprintf("%s: key %q cannot be set from a config file", where, k))
			continue
		}
		if configOnlyKeys[k] {
			continue
		}
		check(c.Commands, k, v)
	}
	sort.Strings(problems)
	return problems
}

func TestConfigExample(t *testing.T) {
	c := ingestCLI(t)
	raw, err := os.ReadFile("config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	docs := readYAML(t, "config.example.yaml")
	if len(docs) != 1 {
		t.Fatalf("config.example.yaml: %d documents, want 1", len(docs))
	}
	for _, p := range checkConfigKeys(c, "config.example.yaml", docs[0].Value) {
		t.Error(p)
	}
	// Commented-out keys document flags too; they must be real as well.
	commented := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#\s?([a-z][a-z0-9-]*):`).FindAllStringSubmatch(string(raw), -1) {
		commented[m[1]] = true
		if !c.anyFlag(m[1]) {
			t.Errorf("config.example.yaml: commented key %q is not a flag of any ingest command", m[1])
		}
	}
	// Every flag of the long-running commands appears, set or commented.
	for _, name := range []string{"collect", "sink", "migrate", "run"} {
		cmd := c.command(t, name)
		for f := range cmd.Flags {
			if f == "help" || f == "config" {
				continue
			}
			if _, set := docs[0].Value[f]; !set && !commented[f] {
				t.Errorf("config.example.yaml: flag --%s of ingest %s is missing (set it or add it commented out)", f, name)
			}
		}
	}
}

func (c *cli) anyFlag(name string) bool {
	for _, cmd := range c.Commands {
		if _, ok := cmd.Flags[name]; ok {
			return true
		}
	}
	_, ok := c.Root.Flags[name]
	return ok
}

// TestConfigFileReachesCommandFlags checks that a config file key named
// after a command's own flag is applied (kong resolves command flags under a
// path that includes the command name): a bad duration under the flag's
// plain name must be rejected naming that flag.
func TestConfigFileReachesCommandFlags(t *testing.T) {
	c := ingestCLI(t)
	for _, name := range []string{"collect", "sink"} {
		cmd := c.command(t, name)
		var flag string
		for _, f := range c.own(cmd) {
			if regexp.MustCompile(`^"?\d+(ms|s|m|h)"?$|^DURATION$`).MatchString(cmd.Flags[f].Value) {
				flag = f
				break
			}
		}
		if flag == "" {
			t.Errorf("ingest %s: no flag of its own takes a duration; cannot probe the config file (own flags: %v)", name, c.own(cmd))
			continue
		}
		cfg := filepath.Join(t.TempDir(), "config.yaml")
		if err := os.WriteFile(cfg, []byte(flag+": not-a-duration\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		run := exec.CommandContext(ctx, c.Bin, name, "--config", cfg)
		run.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()} // no credentials or brokers from this shell
		out, err := run.CombinedOutput()
		cancel()
		code := -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err == nil {
			code = 0
		}
		if code != 2 || !strings.Contains(string(out), flag) {
			t.Errorf("ingest %s --config {%s: not-a-duration}: exit %d, output %q; want exit 2 naming --%s (is the key ignored?)",
				name, flag, code, out, flag)
		}
	}
}

// runIngest runs the built binary with only env as its environment (nothing
// from this shell: no credentials, no brokers) and returns its exit code and
// output.
func runIngest(t *testing.T, c *cli, env []string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("ingest %v did not finish within 60s: %s", args, out)
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	}
	t.Fatalf("ingest %v: %v", args, err)
	return -1, ""
}

// TestConfigTenantsKeyIsRead proves that "tenants" is a key the collector
// reads (it is not a flag): a bad entry is rejected naming it.
func TestConfigTenantsKeyIsRead(t *testing.T) {
	c := ingestCLI(t)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte("tenants:\n  - tenant: \"not a valid name\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out := runIngest(t, c, []string{"KAFKA_BROKERS=127.0.0.1:1", "FALCON_CLIENT_ID=x", "FALCON_CLIENT_SECRET=y"},
		"collect", "--config", cfg)
	if code != 2 || !strings.Contains(out, "tenants") {
		t.Errorf("ingest collect with a bad tenants entry: exit %d, %q; want exit 2 naming tenants", code, out)
	}
}

// TestConfigExampleLoads runs collect and sink on config.example.yaml with
// unreachable Kafka and ClickHouse: every key must pass the binary's own
// validation (exit 2 means a bad key or value), so they fail only on the
// network (exit 1). Files and directories the example names are replaced
// through their environment variables by temporary ones.
func TestConfigExampleLoads(t *testing.T) {
	c := ingestCLI(t)
	docs := readYAML(t, "config.example.yaml")
	if len(docs) != 1 {
		t.Fatal("config.example.yaml: want one document")
	}
	cfg := docs[0].Value
	dir := t.TempDir()
	for _, name := range []string{"collect", "sink"} {
		cmd := c.command(t, name)
		env := []string{"KAFKA_BROKERS=127.0.0.1:1", "CLICKHOUSE_DSN=clickhouse://127.0.0.1:1/tokentrail", "TOKENTRAIL_METRICS_ADDR=127.0.0.1:0"}
		for key := range cfg {
			f, ok := cmd.Flags[key]
			if !ok || len(f.Envs) == 0 {
				continue
			}
			switch f.Value {
			case "FILE":
				p := filepath.Join(dir, key)
				if err := os.WriteFile(p, []byte("secret\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				env = append(env, f.Envs[0]+"="+p)
			case "DIR":
				env = append(env, f.Envs[0]+"="+filepath.Join(dir, key))
			}
		}
		for _, e := range list(cfg, "tenants") {
			if v := str(e, "falcon-client-secret-env"); v != "" {
				env = append(env, v+"=secret")
			}
		}
		code, out := runIngest(t, c, env, name, "--config", "config.example.yaml")
		if code != 1 {
			t.Errorf("ingest %s --config config.example.yaml (Kafka and ClickHouse unreachable): exit %d, want 1 (a network failure, not a configuration error):\n%s",
				name, code, out)
		}
	}
}

// ---------- systemd ----------

func TestSystemdUnits(t *testing.T) {
	c := ingestCLI(t)
	shutdown := durationFlagDefault(t, c, "shutdown-timeout")
	files, _ := filepath.Glob("systemd/*.service")
	if len(files) < 2 {
		t.Fatalf("systemd units: %v, want collector and sink", files)
	}
	run := map[string]bool{}
	ports := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		u, err := parseUnit(string(data))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		svc := u["Service"]
		if svc == nil {
			t.Errorf("%s: no [Service] section", f)
			continue
		}
		creds := map[string]bool{}
		for _, lc := range svc["LoadCredential"] {
			name, _, _ := strings.Cut(lc, ":")
			creds[name] = false
		}
		execs := append(append([]string{}, svc["ExecStartPre"]...), svc["ExecStart"]...)
		if len(svc["ExecStart"]) != 1 {
			t.Errorf("%s: want exactly one ExecStart", f)
		}
		for i, line := range execs {
			words, err := shellWords(strings.TrimLeft(line, "-@:+!"))
			if err != nil || len(words) == 0 {
				t.Errorf("%s: ExecStart %q: %v", f, line, err)
				continue
			}
			if words[0] != "/usr/local/bin/ingest" {
				t.Errorf("%s: runs %s, want /usr/local/bin/ingest (absolute)", f, words[0])
			}
			cmdName, flags, problems := c.checkArgs(f, words[1:])
			for _, p := range problems {
				t.Error(p)
			}
			for flag, v := range flags {
				for _, m := range regexp.MustCompile(`%d/([A-Za-z0-9_.-]+)`).FindAllStringSubmatch(v, -1) {
					if _, ok := creds[m[1]]; !ok {
						t.Errorf("%s: --%s reads credential %s, which no LoadCredential provides", f, flag, m[1])
					}
					creds[m[1]] = true
				}
				if strings.Contains(v, "%S/") {
					dir := strings.TrimPrefix(v, "%S/")
					if !contains(svc["StateDirectory"], dir) {
						t.Errorf("%s: --%s %s is not the unit's StateDirectory %v", f, flag, v, svc["StateDirectory"])
					}
				}
			}
			if i == len(execs)-1 { // ExecStart
				run[cmdName] = true
				ports[f] = portOf(flags["metrics-addr"])
				if ports[f] == "" {
					t.Errorf("%s: no --metrics-addr", f)
				}
			}
		}
		for name, usedBy := range creds {
			if !usedBy {
				t.Errorf("%s: LoadCredential %s is never passed to ingest", f, name)
			}
		}
		for _, env := range svc["Environment"] {
			for _, kv := range strings.Fields(env) {
				k, _, _ := strings.Cut(strings.Trim(kv, `"`), "=")
				if !c.readsEnv(k) {
					t.Errorf("%s: Environment %s is read by no ingest command", f, k)
				}
			}
		}

		// Hardening.
		want := map[string]string{
			"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
			"PrivateDevices": "yes", "CapabilityBoundingSet": "", "RestrictSUIDSGID": "yes", "LockPersonality": "yes",
			"RestrictNamespaces": "yes", "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
			"ProtectControlGroups": "yes", "SystemCallArchitectures": "native", "RestartPreventExitStatus": "2",
		}
		for k, v := range want {
			if got, set := svc[k]; !set || got[len(got)-1] != v {
				t.Errorf("%s: %s=%s missing (have %v)", f, k, v, got)
			}
		}
		if u.last("Service", "DynamicUser") != "yes" && u.last("Service", "User") == "" {
			t.Errorf("%s: runs as root: set DynamicUser=yes or User=", f)
		}
		if !contains(svc["SystemCallFilter"], "@system-service") {
			t.Errorf("%s: SystemCallFilter=@system-service missing", f)
		}
		if af := u.last("Service", "RestrictAddressFamilies"); !strings.Contains(af, "AF_INET") || strings.Contains(af, "AF_PACKET") {
			t.Errorf("%s: RestrictAddressFamilies=%q", f, af)
		}
		if d, err := time.ParseDuration(u.last("Service", "TimeoutStopSec")); err != nil || d <= shutdown {
			t.Errorf("%s: TimeoutStopSec=%q must exceed --shutdown-timeout (%v)", f, u.last("Service", "TimeoutStopSec"), shutdown)
		}
		if u.last("Install", "WantedBy") == "" {
			t.Errorf("%s: no [Install] WantedBy", f)
		}
	}
	if !run["collect"] || !run["sink"] {
		t.Errorf("systemd units start %v, want collect and sink", run)
	}
	seen := map[string]string{}
	for f, p := range ports {
		if other, dup := seen[p]; dup && p != "" {
			t.Errorf("%s and %s both serve metrics on port %s (same host)", f, other, p)
		}
		seen[p] = f
	}
}
