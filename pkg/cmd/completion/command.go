package completion

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// SetUpCompletionCommand adds cobra's completion command to root and rewrites its help for a
// kubectl plugin. The generated scripts complete the kubectl-mlflow binary run on its own;
// `kubectl mlflow <TAB>` goes through kubectl's completion and the kubectl_complete-mlflow helper.
func SetUpCompletionCommand(root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	var completion *cobra.Command
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			completion = c
		}
	}
	if completion == nil {
		return
	}

	completion.Short = "Print a shell completion script for kubectl mlflow"
	completion.Long = `Print a shell completion script (bash, zsh, fish or powershell).

kubectl v1.26 and later complete "kubectl mlflow <TAB>" by running the helper
kubectl_complete-mlflow, which ships next to the binary in every release archive.
Put the helper on PATH and use kubectl's own completion ("kubectl completion bash"):
no script from this command is needed for that.

The scripts printed here complete the kubectl-mlflow binary when you run it by
that name, outside kubectl.`
	completion.Example = `  # Complete "kubectl mlflow <TAB>" after a krew install (kubectl v1.26 or later)
  cp "${KREW_ROOT:-$HOME/.krew}"/store/mlflow/*/kubectl_complete-mlflow "${KREW_ROOT:-$HOME/.krew}/bin/"

  # Complete the kubectl-mlflow binary in the current bash session
  source <(kubectl mlflow completion bash)`

	// cobra's completion command has no Run of its own, so "completion tcsh" or a bare
	// "completion" would print help and exit 0. This makes both an error that lists the shells.
	var shells []string
	for _, shell := range completion.Commands() {
		shells = append(shells, shell.Name())
	}
	completion.Use = "completion SHELL"
	completion.Args = cobra.ArbitraryArgs
	completion.RunE = func(_ *cobra.Command, args []string) error {
		if len(args) == 0 {
			return fmt.Errorf("missing shell: give one of %s, for example \"kubectl mlflow completion bash\"", strings.Join(shells, ", "))
		}
		return fmt.Errorf("unsupported shell %q: give one of %s", args[0], strings.Join(shells, ", "))
	}

	for _, shell := range completion.Commands() {
		// cobra's text names the root command, which is the binary; the same scripts come out of
		// "kubectl mlflow completion SHELL".
		shell.Long = strings.ReplaceAll(shell.Long, root.Name()+" completion", "kubectl mlflow completion")
		shell.Example = fmt.Sprintf(`  # Load completion of kubectl-mlflow in the current %[1]s session
  %[2]s`, shell.Name(), loadExamples[shell.Name()])
	}
}

// loadExamples holds, for each shell, a command that loads the completion script in a running session.
var loadExamples = map[string]string{
	"bash":       "source <(kubectl mlflow completion bash)",
	"zsh":        "source <(kubectl mlflow completion zsh)",
	"fish":       "kubectl mlflow completion fish | source",
	"powershell": "kubectl mlflow completion powershell | Out-String | Invoke-Expression",
}
