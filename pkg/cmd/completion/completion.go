// Package completion implements shell completion for `kubectl mlflow`: cobra's completion command
// with help text for the plugin, and completion functions that list namespaces and HPAs from the
// cluster that the kubeconfig flags select.
package completion

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
)

// clientFunc returns a clientset for the cluster selected by the kubeconfig flags. It is called
// when a completion runs, after cobra has parsed the flags on the command line.
type clientFunc func() (kubernetes.Interface, error)

// namespaceFunc returns the namespace selected by --namespace or by the kubeconfig context.
type namespaceFunc func() (string, error)

func clientFromFlags(configFlags *genericclioptions.ConfigFlags) clientFunc {
	return func() (kubernetes.Interface, error) {
		config, err := configFlags.ToRESTConfig()
		if err != nil {
			return nil, err
		}
		return kubernetes.NewForConfig(config)
	}
}

func namespaceFromFlags(configFlags *genericclioptions.ConfigFlags) namespaceFunc {
	return func() (string, error) {
		namespace, _, err := configFlags.ToRawKubeConfigLoader().Namespace()
		return namespace, err
	}
}

// RegisterNamespaceCompletion completes the value of the --namespace (-n) flag of cmd and of every
// command below it with the namespaces in the cluster. The flag must already be defined, as
// ConfigFlags.AddFlags does.
func RegisterNamespaceCompletion(cmd *cobra.Command, configFlags *genericclioptions.ConfigFlags) error {
	return cmd.RegisterFlagCompletionFunc("namespace", namespaces(clientFromFlags(configFlags)))
}

// HPANames returns a completion function that lists the names of the autoscaling/v2
// HorizontalPodAutoscalers in the namespace selected by --namespace or the kubeconfig context.
// Names already given as arguments are left out.
func HPANames(configFlags *genericclioptions.ConfigFlags) cobra.CompletionFunc {
	return hpaNames(clientFromFlags(configFlags), namespaceFromFlags(configFlags))
}

func namespaces(newClient clientFunc) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		client, err := newClient()
		if err != nil {
			return failed(err)
		}
		list, err := client.CoreV1().Namespaces().List(contextOf(cmd), metav1.ListOptions{})
		if err != nil {
			return failed(fmt.Errorf("failed to list namespaces: %w", err))
		}

		var names []cobra.Completion
		for _, namespace := range list.Items {
			if strings.HasPrefix(namespace.Name, toComplete) {
				names = append(names, namespace.Name)
			}
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

func hpaNames(newClient clientFunc, selectedNamespace namespaceFunc) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		namespace, err := selectedNamespace()
		if err != nil {
			return failed(fmt.Errorf("failed to read the namespace from the kubeconfig: %w", err))
		}
		client, err := newClient()
		if err != nil {
			return failed(err)
		}
		list, err := client.AutoscalingV2().HorizontalPodAutoscalers(namespace).List(contextOf(cmd), metav1.ListOptions{})
		if err != nil {
			return failed(fmt.Errorf("failed to list HorizontalPodAutoscalers in namespace %q: %w", namespace, err))
		}

		var names []cobra.Completion
		for _, hpa := range list.Items {
			if strings.HasPrefix(hpa.Name, toComplete) && !slices.Contains(args, hpa.Name) {
				names = append(names, hpa.Name)
			}
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

// failed offers no completion and no file names. The error goes to the file named by
// BASH_COMP_DEBUG_FILE only, because text on stderr would land in the middle of the command line.
func failed(err error) ([]cobra.Completion, cobra.ShellCompDirective) {
	cobra.CompDebugln("kubectl mlflow completion: "+err.Error(), false)
	return nil, cobra.ShellCompDirectiveNoFileComp
}

func contextOf(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}
