// Package cmd wires the cobra commands of `kubectl mlflow`. Each subcommand lives in its own package
// with an Options type (Complete, Validate, Run); the domain packages import neither cobra nor pflag.
package cmd

import (
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

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
		Annotations: map[string]string{
			// kubectl shows plugin commands under this name in help and usage lines.
			cobra.CommandDisplayNameAnnotation: "kubectl mlflow",
		},
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	configFlags.AddFlags(root.PersistentFlags())

	root.AddCommand(explain.NewCmdExplainHPA(configFlags, streams))
	root.AddCommand(versioncmd.NewCmdVersion(streams))
	root.AddCommand(newCmdNotBuilt("scale-status",
		"Show the health of MLflow autoscaling on one screen"))
	root.AddCommand(newCmdNotBuilt("simulate",
		"Replay a load trace through the HPA controller with current and changed settings"))
	root.AddCommand(newCmdNotBuilt("pdb-check",
		"Check PodDisruptionBudgets against the HPA and the workload"))
	return root
}

// newCmdNotBuilt registers a planned subcommand that exits non-zero with a plain message.
func newCmdNotBuilt(name, short string) *cobra.Command {
	return &cobra.Command{
		Use:   name,
		Short: short + " (not available yet)",
		RunE: func(c *cobra.Command, _ []string) error {
			return fmt.Errorf("%q is not available in this release yet; use \"kubectl mlflow explain-hpa\" to explain an HPA's next decision", name)
		},
	}
}
