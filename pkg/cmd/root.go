// Package cmd wires the cobra commands of `kubectl mlflow`. Each subcommand lives in its own package
// with an Options type (Complete, Validate, Run); the domain packages import neither cobra nor pflag.
package cmd

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/component-base/logs"

	"github.com/kubectl-mlflow/kubectl-mlflow/pkg/cmd/completion"
	"github.com/kubectl-mlflow/kubectl-mlflow/pkg/cmd/explain"
	versioncmd "github.com/kubectl-mlflow/kubectl-mlflow/pkg/cmd/version"
)

// NewCmdRoot builds the `kubectl mlflow` command tree.
func NewCmdRoot(streams genericiooptions.IOStreams) *cobra.Command {
	configFlags := genericclioptions.NewConfigFlags(true)

	root := &cobra.Command{
		Use:   "kubectl-mlflow",
		Short: "Explain and predict how an MLflow tracking server on Kubernetes autoscales",
		Long: `kubectl mlflow runs the HorizontalPodAutoscaler controller's replica algorithm (Kubernetes v1.37)
on live objects or on manifests, and explains each scaling decision with its numbers.`,
		Example: `  # Explain the next scaling decision of an HPA
  kubectl mlflow explain-hpa mlflow -n mlflow

  # Print the version of the plugin
  kubectl mlflow version`,
		Annotations: map[string]string{
			// kubectl shows plugin commands under this name in help and usage lines.
			cobra.CommandDisplayNameAnnotation: "kubectl mlflow",
		},
		SilenceUsage: true,
		// main prints the error once, prefixed "error:" as kubectl does.
		SilenceErrors: true,
	}
	configFlags.AddFlags(root.PersistentFlags())
	addLogFlags(root)
	if err := completion.RegisterNamespaceCompletion(root, configFlags); err != nil {
		// Only a missing --namespace flag or a second registration fails, both programming errors.
		panic(err)
	}

	root.AddCommand(explain.NewCmdExplainHPA(configFlags, streams))
	root.AddCommand(versioncmd.NewCmdVersion(streams))
	root.AddCommand(newCmdNotBuilt("scale-status",
		"Show the health of MLflow autoscaling on one screen"))
	root.AddCommand(newCmdNotBuilt("simulate",
		"Replay a load trace through the HPA controller with current and changed settings"))
	root.AddCommand(newCmdNotBuilt("pdb-check",
		"Check PodDisruptionBudgets against the HPA and the workload"))
	completion.SetUpCompletionCommand(root)
	return root
}

// addLogFlags adds the logging flags of component-base (klog's -v and --vmodule, and
// --log-flush-frequency) and hides all but -v, the one users need for debugging. cli.Run in main
// adds the same flags again, which keeps existing flags and their hidden state.
func addLogFlags(root *cobra.Command) {
	flags := root.PersistentFlags()
	existing := map[string]bool{}
	flags.VisitAll(func(f *pflag.Flag) { existing[f.Name] = true })

	logs.AddFlags(flags)
	flags.VisitAll(func(f *pflag.Flag) {
		if !existing[f.Name] && f.Name != "v" {
			f.Hidden = true
		}
	})
}

// newCmdNotBuilt registers a planned subcommand that exits non-zero with a plain message.
func newCmdNotBuilt(name, short string) *cobra.Command {
	return &cobra.Command{
		Use:     name,
		Short:   short + " (not available yet)",
		Example: "  # Exits with an error until a release implements it\n  kubectl mlflow " + name,
		RunE: func(c *cobra.Command, _ []string) error {
			return fmt.Errorf("%q is not available in this release yet; use \"kubectl mlflow explain-hpa\" to explain an HPA's next decision", name)
		},
	}
}
