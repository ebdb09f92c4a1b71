// Command kube-testcluster runs one component of the end-to-end test control plane. The first
// argument chooses the component, and the remaining arguments are that component's own flags:
//
//	kube-testcluster etcd --data-dir DIR --listen-client-url URL --listen-peer-url URL
//	kube-testcluster apiserver [kube-apiserver flags]
//	kube-testcluster controller-manager [kube-controller-manager flags]
//
// Each component runs in its own process because the controller manager rejects a second
// logging configuration in a process where the API server already set one up.
package main

import (
	"fmt"
	"os"
	_ "time/tzdata" // CronJob time zones need the database on machines without one.

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // registers the JSON log format
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // registers client-go metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // registers the version metric
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

const usage = "usage: kube-testcluster etcd|apiserver|controller-manager [flags]"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	component, args := os.Args[1], os.Args[2:]

	switch component {
	case "etcd":
		if err := runEtcd(args); err != nil {
			fmt.Fprintf(os.Stderr, "kube-testcluster etcd: %v\n", err)
			os.Exit(1)
		}
	case "apiserver":
		command := apiserver.NewAPIServerCommand()
		command.SetArgs(args)
		os.Exit(cli.Run(command))
	case "controller-manager":
		command := controllermanager.NewControllerManagerCommand()
		command.SetArgs(args)
		os.Exit(cli.Run(command))
	case "-h", "--help", "help":
		fmt.Println(usage)
	default:
		fmt.Fprintf(os.Stderr, "unknown component %q\n%s\n", component, usage)
		os.Exit(2)
	}
}
