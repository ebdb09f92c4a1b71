package completion

import (
	"errors"
	"slices"
	"testing"

	"github.com/spf13/cobra"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
)

func namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func hpa(namespace, name string) *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
}

func fakeClient(objects ...runtime.Object) clientFunc {
	client := fake.NewClientset(objects...)
	return func() (kubernetes.Interface, error) { return client, nil }
}

func fixedNamespace(name string) namespaceFunc {
	return func() (string, error) { return name, nil }
}

func TestHPANamesListsSelectedNamespace(t *testing.T) {
	complete := hpaNames(fakeClient(
		hpa("mlflow", "mlflow-tracking"),
		hpa("mlflow", "mlflow-gateway"),
		hpa("mlflow", "postgres"),
		hpa("other", "mlflow-other"),
	), fixedNamespace("mlflow"))

	cases := []struct {
		desc       string
		args       []string
		toComplete string
		want       []string
	}{
		{desc: "empty prefix lists every HPA", toComplete: "", want: []string{"mlflow-gateway", "mlflow-tracking", "postgres"}},
		{desc: "prefix filters names", toComplete: "mlflow-", want: []string{"mlflow-gateway", "mlflow-tracking"}},
		{desc: "names already given are left out", args: []string{"mlflow-gateway"}, toComplete: "mlflow-", want: []string{"mlflow-tracking"}},
		{desc: "no match", toComplete: "redis", want: nil},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			got, directive := complete(&cobra.Command{}, tc.args, tc.toComplete)
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("completions = %q, want %q", got, tc.want)
			}
			if directive != cobra.ShellCompDirectiveNoFileComp {
				t.Errorf("directive = %d, want ShellCompDirectiveNoFileComp", directive)
			}
		})
	}
}

func TestHPANamesClientError(t *testing.T) {
	failing := func() (kubernetes.Interface, error) { return nil, errors.New("no kubeconfig") }
	got, directive := hpaNames(failing, fixedNamespace("mlflow"))(&cobra.Command{}, nil, "")
	if len(got) != 0 {
		t.Errorf("completions = %q, want none", got)
	}
	if directive != cobra.ShellCompDirectiveNoFileComp {
		t.Errorf("directive = %d, want ShellCompDirectiveNoFileComp", directive)
	}
}

func TestHPANamesNamespaceError(t *testing.T) {
	badNamespace := func() (string, error) { return "", errors.New("invalid kubeconfig") }
	got, _ := hpaNames(fakeClient(hpa("mlflow", "a")), badNamespace)(&cobra.Command{}, nil, "")
	if len(got) != 0 {
		t.Errorf("completions = %q, want none", got)
	}
}

func TestNamespacesFiltersByPrefix(t *testing.T) {
	complete := namespaces(fakeClient(namespace("default"), namespace("mlflow"), namespace("mlflow-staging"), namespace("kube-system")))

	got, directive := complete(&cobra.Command{}, nil, "ml")
	slices.Sort(got)
	want := []string{"mlflow", "mlflow-staging"}
	if !slices.Equal(got, want) {
		t.Errorf("completions = %q, want %q", got, want)
	}
	if directive != cobra.ShellCompDirectiveNoFileComp {
		t.Errorf("directive = %d, want ShellCompDirectiveNoFileComp", directive)
	}
}

func TestSetUpCompletionCommandAddsExamples(t *testing.T) {
	root := &cobra.Command{Use: "kubectl-mlflow"}
	root.AddCommand(&cobra.Command{Use: "version", Run: func(*cobra.Command, []string) {}})
	SetUpCompletionCommand(root)

	var completion *cobra.Command
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			completion = c
		}
	}
	if completion == nil {
		t.Fatal("root has no completion command")
	}
	if completion.Example == "" {
		t.Error("completion has no examples")
	}
	shells := map[string]bool{}
	for _, shell := range completion.Commands() {
		shells[shell.Name()] = true
		if shell.Example == "" {
			t.Errorf("completion %s has no examples", shell.Name())
		}
	}
	for _, want := range []string{"bash", "zsh", "fish", "powershell"} {
		if !shells[want] {
			t.Errorf("completion has no %s subcommand", want)
		}
	}
}
