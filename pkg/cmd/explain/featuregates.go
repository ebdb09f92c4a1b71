package explain

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/kubectl-mlflow/kubectl-mlflow/pkg/hpa"
)

// featureGateFlag parses --feature-gates in kube-controller-manager's form: Name=true,Name=false.
type featureGateFlag struct {
	gates *map[string]bool
}

func newFeatureGateFlag(gates *map[string]bool) *featureGateFlag {
	return &featureGateFlag{gates: gates}
}

func (f *featureGateFlag) String() string {
	if f.gates == nil || *f.gates == nil {
		return ""
	}
	var parts []string
	for name, on := range *f.gates {
		parts = append(parts, fmt.Sprintf("%s=%t", name, on))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (f *featureGateFlag) Set(value string) error {
	if *f.gates == nil {
		*f.gates = map[string]bool{}
	}
	for _, part := range strings.Split(value, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, raw, found := strings.Cut(part, "=")
		if !found {
			return fmt.Errorf("invalid feature gate %q: use Name=true or Name=false", part)
		}
		on, err := strconv.ParseBool(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Errorf("invalid value %q for feature gate %s: use true or false", raw, name)
		}
		(*f.gates)[strings.TrimSpace(name)] = on
	}
	return nil
}

func (f *featureGateFlag) Type() string { return "mapStringBool" }

// knownGates are the gates that change HPA decisions in kube-controller-manager v1.37.
var knownGates = []string{"HPAScaleToZero", "HPAConfigurableTolerance", "PodLevelResources", "HPAGeneration"}

func applyFeatureGates(target *hpa.FeatureGates, values map[string]bool) error {
	for name, on := range values {
		switch name {
		case "HPAScaleToZero":
			target.HPAScaleToZero = on
		case "HPAConfigurableTolerance":
			// GA and locked to true in v1.37: kube-controller-manager rejects false.
			if !on {
				return fmt.Errorf("invalid --feature-gates HPAConfigurableTolerance=false: the gate is locked to true in Kubernetes v1.37")
			}
			target.HPAConfigurableTolerance = true
		case "PodLevelResources":
			target.PodLevelResources = on
		case "HPAGeneration":
			target.HPAGeneration = on
		default:
			return fmt.Errorf("unknown feature gate %q in --feature-gates: the gates that change HPA decisions are %s", name, strings.Join(knownGates, ", "))
		}
	}
	return nil
}
