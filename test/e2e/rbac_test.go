package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubectl-mlflow/kubectl-mlflow/test/harness"
)

const rbacManifest = "../../deploy/rbac.yaml"

// readerRole returns the ClusterRole that deploy/rbac.yaml defines.
func readerRole(t *testing.T) *rbacv1.ClusterRole {
	t.Helper()
	data, err := os.ReadFile(rbacManifest)
	if err != nil {
		t.Fatal(err)
	}
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var role rbacv1.ClusterRole
		if err := decoder.Decode(&role); err != nil {
			t.Fatalf("%s has no ClusterRole: %v", rbacManifest, err)
		}
		if role.Kind == "ClusterRole" {
			return &role
		}
	}
}

func TestRBACRoleIsReadOnly(t *testing.T) {
	for _, rule := range readerRole(t).Rules {
		for _, verb := range rule.Verbs {
			if verb != "get" && verb != "list" {
				t.Errorf("rule %v of %s allows %q; the plugin only reads", rule.Resources, rbacManifest, verb)
			}
		}
	}
}

// readerKubeconfig binds role to a new ServiceAccount and writes a kubeconfig that authenticates
// as it with a short-lived token.
func readerKubeconfig(t *testing.T, cluster *harness.Cluster, role *rbacv1.ClusterRole, account string) string {
	t.Helper()
	ctx := context.Background()
	const namespace = "rbac-readers"
	if _, err := cluster.Client.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{}); err != nil {
		cluster.CreateNamespace(t, namespace)
	}

	role = role.DeepCopy()
	role.Name = account
	role.ResourceVersion = ""
	if _, err := cluster.Client.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create ClusterRole %s: %v", role.Name, err)
	}
	if _, err := cluster.Client.CoreV1().ServiceAccounts(namespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: account}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create ServiceAccount %s: %v", account, err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: account},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: account, Namespace: namespace}},
	}
	if _, err := cluster.Client.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create ClusterRoleBinding %s: %v", account, err)
	}
	expiration := int64(600)
	token, err := cluster.Client.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, account,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiration}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create a token for ServiceAccount %s: %v", account, err)
	}

	admin, err := clientcmd.LoadFromFile(cluster.KubeconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	config := admin.DeepCopy()
	config.AuthInfos = map[string]*clientcmdapi.AuthInfo{account: {Token: token.Status.Token}}
	for name, context := range config.Contexts {
		context.AuthInfo = account
		context.Namespace = ""
		config.Contexts[name] = context
	}
	path := filepath.Join(t.TempDir(), account+".kubeconfig")
	if err := clientcmd.WriteToFile(*config, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// explainAs runs `kubectl mlflow explain-hpa` with kubeconfig and returns stdout, stderr and the
// exit error.
func explainAs(kubeconfig, namespace string) (string, string, error) {
	cmd := exec.Command("kubectl", "mlflow", "explain-hpa", workloadName, "-n", namespace, "-o", "json", "--cache-dir", filepath.Join(filepath.Dir(kubeconfig), "cache"))
	for _, variable := range os.Environ() {
		if !strings.HasPrefix(variable, "KUBECONFIG=") {
			cmd.Env = append(cmd.Env, variable)
		}
	}
	cmd.Env = append(cmd.Env, "KUBECONFIG="+kubeconfig)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

func TestExplainWithReaderRole(t *testing.T) {
	harness.SkipWithoutBinary(t)
	requirePlugin(t)
	cluster := harness.Start(t, harness.Options{})
	const namespace = "rbac-mlflow"
	setUpScenario(t, cluster, namespace, agreementScenarios()[0])
	asAdmin := explain(t, cluster, namespace).Items[0]

	t.Run("reader role explains like admin", func(t *testing.T) {
		kubeconfig := readerKubeconfig(t, cluster, readerRole(t), "mlflow-reader")
		stdout, stderr, err := explainAs(kubeconfig, namespace)
		if err != nil {
			t.Fatalf("explain-hpa as the reader failed: %v\n%s", err, stderr)
		}
		var asReader prediction
		if err := json.Unmarshal([]byte(stdout), &asReader); err != nil || len(asReader.Items) != 1 {
			t.Fatalf("output as the reader is not one explanation (%v):\n%s", err, stdout)
		}
		if asReader.Items[0].DesiredReplicas != asAdmin.DesiredReplicas {
			t.Errorf("desiredReplicas as the reader = %d, as admin = %d", asReader.Items[0].DesiredReplicas, asAdmin.DesiredReplicas)
		}
		if len(asReader.Items[0].Metrics) != len(asAdmin.Metrics) {
			t.Fatalf("metrics as the reader = %d, as admin = %d", len(asReader.Items[0].Metrics), len(asAdmin.Metrics))
		}
		for i, m := range asReader.Items[0].Metrics {
			if m.ProposedReplicas != asAdmin.Metrics[i].ProposedReplicas {
				t.Errorf("metric %d proposal as the reader = %d, as admin = %d", i, m.ProposedReplicas, asAdmin.Metrics[i].ProposedReplicas)
			}
		}
	})

	t.Run("missing pods permission is named", func(t *testing.T) {
		role := readerRole(t)
		var rules []rbacv1.PolicyRule
		for _, rule := range role.Rules {
			if len(rule.APIGroups) == 1 && rule.APIGroups[0] == "" && len(rule.Resources) == 1 && rule.Resources[0] == "pods" {
				continue
			}
			rules = append(rules, rule)
		}
		if len(rules) == len(role.Rules) {
			t.Fatalf("%s has no separate rule for pods", rbacManifest)
		}
		role.Rules = rules
		kubeconfig := readerKubeconfig(t, cluster, role, "mlflow-reader-without-pods")

		deadline := time.Now().Add(30 * time.Second)
		_, stderr, err := explainAs(kubeconfig, namespace)
		for err == nil && time.Now().Before(deadline) {
			// RBAC caches may lag the binding by a moment; a success here would be wrong.
			time.Sleep(time.Second)
			_, stderr, err = explainAs(kubeconfig, namespace)
		}
		if err == nil {
			t.Fatal("explain-hpa succeeded without permission to list pods")
		}
		for _, want := range []string{"pods", "deploy/rbac.yaml"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("error output does not mention %q:\n%s", want, stderr)
			}
		}
		if strings.Contains(stderr, "panic") {
			t.Errorf("the plugin panicked:\n%s", stderr)
		}
	})
}
