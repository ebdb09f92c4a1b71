package report

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/kubectl-mlflow/kubectl-mlflow/pkg/hpa"
)

// DefaultWidth is the terminal width the text output fits when TextOptions.Width is 0.
const DefaultWidth = 100

// maxListedNames bounds the pod names printed in one pod group. The rest are counted.
const maxListedNames = 3

// maxListedRecommendations bounds the stored recommendations printed for stabilization.
const maxListedRecommendations = 6

// TextOptions configure WriteText.
type TextOptions struct {
	// Width is the line width to wrap at. Zero means DefaultWidth.
	Width int
	// Verbose adds the per-pod samples of each metric.
	Verbose bool
}

// WriteText writes the explanation of each item for a person to read before kubectl describe
// hpa: the verdict, each metric's calculation and next step, normalization, conditions, events
// and what the tool cannot see. It returns the first write error.
func WriteText(w io.Writer, items []Item, opts TextOptions) error {
	if opts.Width <= 0 {
		opts.Width = DefaultWidth
	}
	buffered := bufio.NewWriter(w)
	p := &printer{w: buffered, width: opts.Width}
	if len(items) == 0 {
		p.line("No HorizontalPodAutoscalers to explain.")
	}
	for i, item := range items {
		if i > 0 {
			p.line("")
			p.line(strings.Repeat("─", min(opts.Width, 60)))
			p.line("")
		}
		p.item(item, opts)
	}
	if p.err != nil {
		return p.err
	}
	return buffered.Flush()
}

// printer keeps the first write error so that the section code reads as a sequence of lines.
type printer struct {
	w     io.Writer
	width int
	err   error
}

func (p *printer) line(text string) {
	if p.err != nil {
		return
	}
	_, p.err = fmt.Fprintln(p.w, text)
}

func (p *printer) wrapped(first, text string) {
	if p.err == nil {
		p.err = writeWrapped(p.w, first, text, p.width)
	}
}

func (p *printer) table(indent int, header []string, rows [][]string) {
	if p.err == nil && len(rows) > 0 {
		p.err = writeTable(p.w, indent, p.width, header, rows)
	}
}

// keyValues writes rows of a label and a wrapped value, aligned as a two-column table.
func (p *printer) keyValues(indent int, rows [][]string) {
	p.table(indent, nil, rows)
}

func (p *printer) item(item Item, opts TextOptions) {
	target := item.ScaleTargetRef.Kind + "/" + item.ScaleTargetRef.Name
	p.wrapped("", fmt.Sprintf("%s/%s → %s: %s", item.Namespace, item.Name, target, item.Verdict))
	// Without a rescale the replica count stays, even when status.desiredReplicas keeps an older
	// value after a failed metrics step.
	next := item.CurrentReplicas
	if item.Rescale {
		next = item.DesiredReplicas
	}
	replicas := fmt.Sprintf("%d → %d (minReplicas %d, maxReplicas %d)", item.CurrentReplicas, next, item.MinReplicas, item.MaxReplicas)
	if item.Branch == string(hpa.BranchFailedGetScale) {
		replicas = fmt.Sprintf("unknown: the scale could not be read (minReplicas %d, maxReplicas %d)", item.MinReplicas, item.MaxReplicas)
	}
	header := [][]string{{"replicas", replicas}}
	evaluated := item.EvaluatedAt.Format(time.RFC3339)
	if item.Source != "" {
		evaluated += " from " + item.Source
	}
	header = append(header, []string{"evaluated", evaluated})
	if item.OutcomeRange != nil && item.OutcomeRange.Lowest != item.OutcomeRange.Highest {
		header = append(header, []string{"range", fmt.Sprintf("%d to %d replicas, depending on the controller's memory (see below)",
			item.OutcomeRange.Lowest, item.OutcomeRange.Highest)})
	}
	p.keyValues(2, header)

	if item.Error != "" {
		p.line("")
		p.wrapped("  Error: ", item.Error)
		if item.Hint != "" && !metricHasHint(item, item.Hint) {
			p.wrapped("  Fix:   ", item.Hint)
		}
	}

	p.metrics(item, opts)
	p.decision(item)
	p.conditions(item)
	p.events(item)
	p.lastStatus(item)
	p.bullets("Assumptions", item.Assumptions)
	p.bullets("Warnings", item.Warnings)
	p.cannotSee(item)
}

func (p *printer) metrics(item Item, opts TextOptions) {
	for _, m := range item.Metrics {
		p.line("")
		title := fmt.Sprintf("Metric %d: %s", m.Index+1, metricLabel(m))
		if item.WinningMetric != nil && item.WinningMetric.Index == m.Index {
			title += "  [winning metric]"
		}
		p.wrapped("  ", title)
		p.keyValues(4, metricRows(m, item))
		if opts.Verbose && len(m.Samples) > 0 {
			p.line("    samples")
			rows := make([][]string, 0, len(m.Samples))
			for _, s := range m.Samples {
				rows = append(rows, []string{s.Pod, s.Value, dash(s.Request), dash(s.Filled)})
			}
			p.table(6, []string{"POD", "VALUE", "REQUEST", "FILLED"}, rows)
		}
	}
	for _, m := range item.Metrics {
		if m.NextStep != nil && (m.NextStep.ScaleUp != nil || m.NextStep.ScaleDown != nil) {
			p.line("")
			p.wrapped("  ", "Thresholds are the metric values at which this metric alone would propose one pod more "+
				"or fewer than the current count, with today's pod counts: stabilization, rate limits, "+
				"minReplicas/maxReplicas and the other metrics may still hold the change.")
			break
		}
	}
}

func metricHasHint(item Item, hint string) bool {
	for _, m := range item.Metrics {
		if m.Error != nil && m.Error.Hint == hint {
			return true
		}
	}
	return false
}

// metricLabel is the controller's metric name, or a description built from the spec when the
// metric failed before the engine named it.
func metricLabel(m Metric) string {
	if m.Name != "" {
		return m.Name
	}
	subject := m.Resource
	if subject == "" {
		subject = m.MetricName
	}
	if subject == "" {
		return m.Type + " metric"
	}
	return m.Type + " metric " + subject
}

func metricRows(m Metric, item Item) [][]string {
	var rows [][]string
	if m.Error != nil {
		rows = append(rows, []string{"error", m.Error.Message})
		if m.Error.Hint != "" {
			rows = append(rows, []string{"fix", m.Error.Hint})
		}
	}
	if m.Current != nil {
		rows = append(rows, []string{"current", currentText(m)})
	} else if target := valueText(m.Target.MetricValue); target != "" {
		rows = append(rows, []string{"target", target})
	}
	if m.Ratio != nil {
		rows = append(rows, []string{"ratio", ratioText(m)})
	}
	if m.PodGroups != nil {
		rows = append(rows, []string{"pods", podGroupsText(*m.PodGroups)})
	}
	if m.Adjusted != nil {
		rows = append(rows, []string{"adjusted", adjustedText(m)})
	}
	if m.Rule != nil {
		rows = append(rows, []string{"rule", m.Rule.Expression})
	}
	if m.NextStep != nil {
		rows = append(rows, nextStepRows(m, item)...)
	}
	return rows
}

// currentText writes the first-pass value against the target, in the target's terms.
func currentText(m Metric) string {
	c, t := *m.Current, m.Target
	switch m.Calculation {
	case string(hpa.CalculationResourceUtilization):
		text := fmt.Sprintf("%d%% of request", derefInt32(c.AverageUtilization))
		if c.AverageValue != nil {
			text += fmt.Sprintf(" (avg %s", *c.AverageValue)
			if request, ok := averageRequest(m); ok {
				text += " of " + request
			}
			text += ")"
		}
		return text + fmt.Sprintf(" vs target %d%%", derefInt32(t.AverageUtilization))
	case string(hpa.CalculationResourceAverageValue), string(hpa.CalculationPodsAverageValue):
		return fmt.Sprintf("avg %s per pod vs target %s", deref(c.AverageValue), deref(t.AverageValue))
	case string(hpa.CalculationObjectValue), string(hpa.CalculationExternalValue):
		return fmt.Sprintf("value %s vs target %s", deref(c.Value), deref(t.Value))
	case string(hpa.CalculationObjectAverageValue), string(hpa.CalculationExternalAverageValue):
		return fmt.Sprintf("value %s over %d status replicas = %s per replica vs target %s per replica",
			deref(c.Value), m.StartReplicas, deref(c.AverageValue), deref(t.AverageValue))
	}
	return valueText(c)
}

// averageRequest is the mean request of the first-pass samples, which the engine does not report.
func averageRequest(m Metric) (string, bool) {
	var total, n int64
	for _, s := range m.Samples {
		if s.Filled != "" || s.RequestMilli == nil {
			continue
		}
		total += *s.RequestMilli
		n++
	}
	if n == 0 {
		return "", false
	}
	return quantity(total/n, m.Resource), true
}

func valueText(v MetricValue) string {
	var parts []string
	if v.AverageUtilization != nil {
		parts = append(parts, fmt.Sprintf("%d%% of request", *v.AverageUtilization))
	}
	if v.AverageValue != nil {
		parts = append(parts, "avg "+*v.AverageValue)
	}
	if v.Value != nil {
		parts = append(parts, "value "+*v.Value)
	}
	return strings.Join(parts, ", ")
}

func ratioText(m Metric) string {
	tolerances := hpa.Tolerances{ScaleDown: m.Tolerance.ScaleDown, ScaleUp: m.Tolerance.ScaleUp}
	ratio := *m.Ratio
	text := formatRatio(ratio, tolerances) + ", tolerance band " + formatBand(tolerances)
	switch {
	case m.Rule != nil && m.Rule.Name == string(hpa.RuleFromZero):
		return text + ": not applied when scaling from zero"
	case m.WithinTolerance != nil && *m.WithinTolerance:
		return text + ": within"
	case ratio > 1:
		return text + ": above"
	default:
		return text + ": below"
	}
}

func podGroupsText(g PodGroups) string {
	return strings.Join([]string{
		groupText(len(g.Ready), "ready", nil),
		groupText(len(g.Unready), "unready", withReasons(g.Unready, g.UnreadyReasons)),
		groupText(len(g.Missing), "missing", g.Missing),
		groupText(len(g.Ignored), "ignored", g.Ignored),
	}, ", ")
}

// withReasons appends each pod's unready reason to its name, for example "web-1: Pending".
func withReasons(names []string, reasons map[string]string) []string {
	out := make([]string, 0, len(names))
	for _, name := range names {
		if reason := reasons[name]; reason != "" {
			name += ": " + reason
		}
		out = append(out, name)
	}
	return out
}

func groupText(n int, label string, names []string) string {
	text := fmt.Sprintf("%d %s", n, label)
	if len(names) == 0 {
		return text
	}
	listed := names[:min(len(names), maxListedNames)]
	more := ""
	if len(names) > maxListedNames {
		more = fmt.Sprintf(" +%d more", len(names)-maxListedNames)
	}
	return text + " (" + strings.Join(listed, " ") + more + ")"
}

func adjustedText(m Metric) string {
	a := m.Adjusted
	var filled []string
	if a.UnreadyValue != "" {
		filled = append(filled, "unready pods counted as "+a.UnreadyValue)
	}
	if a.MissingValue != "" {
		filled = append(filled, "missing pods counted as "+a.MissingValue)
	}
	value := valueText(a.Current)
	if a.Current.AverageUtilization != nil {
		value = fmt.Sprintf("%d%% of request", *a.Current.AverageUtilization)
	}
	tolerances := hpa.Tolerances{ScaleDown: m.Tolerance.ScaleDown, ScaleUp: m.Tolerance.ScaleUp}
	within := "outside the band"
	if a.WithinTolerance {
		within = "within tolerance"
	}
	return fmt.Sprintf("%s: %s over %d pods, ratio %s, %s", strings.Join(filled, ", "), value, a.Count,
		formatRatio(a.Ratio, tolerances), within)
}

func nextStepRows(m Metric, item Item) [][]string {
	n := m.NextStep
	if n.ScaleUp == nil && n.ScaleDown == nil {
		return [][]string{{"thresholds", "not computed: " + n.Unavailable}}
	}
	var rows [][]string
	label := "thresholds"
	if n.ScaleUp != nil {
		rows = append(rows, []string{label, "up " + stepText(*n.ScaleUp, m, "or more", item)})
		label = ""
	}
	if n.ScaleDown != nil {
		rows = append(rows, []string{label, "down " + stepText(*n.ScaleDown, m, "or less", item)})
		label = ""
	}
	if n.Unavailable != "" {
		rows = append(rows, []string{label, n.Unavailable})
	}
	return rows
}

// milliThresholdText writes a threshold in milli-units. A scale-up threshold one milli-unit
// above a rounder number reads "above 11" instead of "at 11001m or more"; likewise a scale-down
// threshold one below reads "below 5".
func milliThresholdText(milli int64, resourceName, direction string) string {
	exact := quantity(milli, resourceName)
	switch direction {
	case "or more":
		if rounder := quantity(milli-1, resourceName); len(rounder) < len(exact) {
			return "above " + rounder
		}
	case "or less":
		if rounder := quantity(milli+1, resourceName); len(rounder) < len(exact) {
			return "below " + rounder
		}
	}
	return "at " + exact + " " + direction
}

func stepText(s Step, m Metric, direction string, item Item) string {
	var value string
	switch {
	case s.AverageUtilization != nil:
		value = fmt.Sprintf("at %d%% of request %s", *s.AverageUtilization, direction)
	case s.AverageValue != nil:
		value = milliThresholdText(*s.AverageValueMilli, m.Resource, direction) + " per pod"
	case s.Value != nil:
		value = milliThresholdText(*s.ValueMilli, m.Resource, direction)
	}
	text := fmt.Sprintf("%s: proposes %d", value, s.ProposedReplicas)
	if s.ClampedTo != nil {
		bound := "maxReplicas"
		if *s.ClampedTo == item.MinReplicas && s.ProposedReplicas < item.MinReplicas {
			bound = "minReplicas"
		}
		text += fmt.Sprintf(", clamped to %s %d", bound, *s.ClampedTo)
	}
	return text
}

func (p *printer) decision(item Item) {
	p.line("")
	p.line("  Decision")
	var rows [][]string
	switch item.Branch {
	case string(hpa.BranchAboveMaxReplicas), string(hpa.BranchBelowMinReplicas):
		rows = append(rows, []string{"metrics", "not computed: the controller moves an out-of-range replica count to the " +
			"nearest bound without reading metrics, stabilizing or rate limiting"})
	case string(hpa.BranchScalingDisabled):
		rows = append(rows, []string{"metrics", "not computed: the target has 0 replicas and the HPA did not scale it to zero"})
	case string(hpa.BranchFailedGetScale):
		rows = append(rows, []string{"metrics", "not computed: the scale subresource could not be read"})
	default:
		rows = append(rows, metricsDecisionRows(item)...)
	}
	desired := fmt.Sprintf("%d", item.DesiredReplicas)
	switch {
	case item.Rescale:
		desired += "; the controller rescales (reason: " + item.RescaleReason + ")"
	case item.DesiredReplicas != item.CurrentReplicas:
		desired = fmt.Sprintf("%d replicas stay; status.desiredReplicas keeps its previous value, %d", item.CurrentReplicas, item.DesiredReplicas)
	default:
		desired += "; no rescale"
	}
	rows = append(rows, []string{"desired", desired})
	p.keyValues(4, rows)
}

func metricsDecisionRows(item Item) [][]string {
	var rows [][]string
	if item.WinningMetric != nil {
		rows = append(rows, []string{"metrics propose", fmt.Sprintf("%d, from %s (metric %d)",
			item.WinningMetric.ProposedReplicas, item.WinningMetric.Name, item.WinningMetric.Index+1)})
	} else if item.MetricDesiredReplicas < 0 {
		rows = append(rows, []string{"metrics propose", "nothing: the metrics step failed, so desiredReplicas keeps its previous value"})
	}
	if s := item.Stabilization; s != nil {
		rows = append(rows, []string{"stabilization", stabilizationText(*s, item)})
		if considered := consideredText(s.Considered, item.EvaluatedAt); considered != "" {
			rows = append(rows, []string{"", "considered: " + considered + fmt.Sprintf(", and this decision's %d", item.PrenormalizedDesiredReplicas)})
		}
	}
	if r := item.RateLimit; r != nil {
		rows = append(rows, rateLimitRows(*r)...)
	}
	if l := item.Limited; l != nil {
		rows = append(rows, []string{"limits", limitedText(*l, item)})
	}
	if item.ScaleFromZeroFloor {
		rows = append(rows, []string{"from zero", fmt.Sprintf("raised to minReplicas %d after scaling from zero", item.MinReplicas)})
	}
	return rows
}

func stabilizationText(s Stabilization, item Item) string {
	var text string
	if s.Mode == "legacy" {
		text = fmt.Sprintf("legacy, scale-down window %ds: highest of %d and the stored recommendations = %d",
			s.DownWindowSeconds, s.Recommendation, s.Result)
	} else {
		text = fmt.Sprintf("scale-up window %ds (lowest %d), scale-down window %ds (highest %d): %d",
			s.UpWindowSeconds, s.UpRecommendation, s.DownWindowSeconds, s.DownRecommendation, s.Result)
	}
	if s.Held {
		text += fmt.Sprintf(", held from %d (%s)", s.Recommendation, s.Reason)
	} else {
		text += " (" + s.Reason + ")"
	}
	return text
}

func consideredText(recommendations []Recommendation, now time.Time) string {
	var parts []string
	for i, r := range recommendations {
		if i == maxListedRecommendations {
			parts = append(parts, fmt.Sprintf("+%d more", len(recommendations)-i))
			break
		}
		age := now.Sub(r.Timestamp).Round(time.Second)
		when := "now"
		if age > 0 {
			when = age.String() + " ago"
		}
		parts = append(parts, fmt.Sprintf("%d (%s)", r.Replicas, when))
	}
	return strings.Join(parts, ", ")
}

func rateLimitRows(r RateLimit) [][]string {
	if r.Direction == "none" {
		return [][]string{{"rate limit", "not applied: no change requested"}}
	}
	direction := "scale-up"
	if r.Direction == "down" {
		direction = "scale-down"
	}
	if r.SelectPolicy == "Disabled" {
		return [][]string{{"rate limit", direction + " selectPolicy Disabled: no change allowed"}}
	}
	rows := [][]string{{"rate limit", fmt.Sprintf("%s, selectPolicy %s: limit %d", direction, r.SelectPolicy, r.Limit)}}
	for _, policy := range r.Policies {
		amount := strconv.Itoa(int(policy.Value)) + " pods"
		if policy.Type == "Percent" {
			amount = strconv.Itoa(int(policy.Value)) + "%"
		}
		text := fmt.Sprintf("%s %s per %ds: %d at period start → %d", policy.Type, amount, policy.PeriodSeconds,
			policy.PeriodStartReplicas, policy.Limit)
		if policy.Selected {
			text += " (selected)"
		}
		rows = append(rows, []string{"", text})
	}
	if r.Result.Active {
		rows = append(rows, []string{"", fmt.Sprintf("bound: %d (%s)", r.Result.Replicas, r.Result.Reason)})
	}
	return rows
}

func limitedText(l Limited, item Item) string {
	text := fmt.Sprintf("[%d, %d] → %d (%s)", item.MinReplicas, item.MaxReplicas, l.Replicas, l.Reason)
	if l.Active {
		text += ": " + l.Message
	}
	return text
}

func (p *printer) conditions(item Item) {
	if len(item.Conditions) == 0 {
		return
	}
	p.line("")
	p.line("  Conditions (as the controller would write them)")
	rows := make([][]string, 0, len(item.Conditions))
	for _, c := range item.Conditions {
		rows = append(rows, []string{c.Type, c.Status, c.Reason, c.Message})
	}
	p.table(4, []string{"Type", "Status", "Reason", "Message"}, rows)
}

func (p *printer) lastStatus(item Item) {
	if item.LastStatus == nil && len(item.Evidence) == 0 {
		return
	}
	p.line("")
	p.line("  What the controller reported last (the HPA's status as read)")
	if last := item.LastStatus; last != nil {
		summary := fmt.Sprintf("currentReplicas %d, desiredReplicas %d", last.CurrentReplicas, last.DesiredReplicas)
		if last.LastScaleTime != nil {
			summary += ", lastScaleTime " + last.LastScaleTime.Format(time.RFC3339)
		}
		p.wrapped("    ", summary)
		rows := make([][]string, 0, len(last.Conditions))
		for _, c := range last.Conditions {
			rows = append(rows, []string{c.Type, c.Status, c.Reason})
		}
		p.table(4, []string{"Type", "Status", "Reason"}, rows)
	}
	for _, text := range item.Evidence {
		p.wrapped("    - ", text)
	}
}

func (p *printer) events(item Item) {
	p.line("")
	if len(item.Events) == 0 {
		p.line("  Events the controller would emit: none")
		return
	}
	p.line("  Events the controller would emit")
	rows := make([][]string, 0, len(item.Events))
	for _, e := range item.Events {
		rows = append(rows, []string{e.Type, e.Reason, e.Message})
	}
	p.table(4, []string{"Type", "Reason", "Message"}, rows)
}

func (p *printer) bullets(title string, lines []string) {
	if len(lines) == 0 {
		return
	}
	p.line("")
	p.line("  " + title)
	for _, text := range lines {
		p.wrapped("    - ", text)
	}
}

func (p *printer) cannotSee(item Item) {
	p.line("")
	p.line("  What this tool cannot see")
	// Without metrics there is no decision that memory or a later sample could change.
	computed := item.Branch == string(hpa.BranchMetrics) && item.MetricDesiredReplicas >= 0
	if computed {
		p.wrapped("    - ", memoryLimitText(item))
	}
	if item.Rescale {
		p.wrapped("    - ", fmt.Sprintf("Whether the scale update succeeds: the events and conditions above assume that writing "+
			"%d to the scale of %s/%s succeeds. If it fails, the controller records a FailedRescale event and "+
			"AbleToScale=False (FailedUpdateScale).", item.DesiredReplicas, item.ScaleTargetRef.Kind, item.ScaleTargetRef.Name))
	} else {
		p.wrapped("    - ", "Whether a scale update would succeed: no update is due, so none is attempted.")
	}
	if !computed {
		return
	}
	p.wrapped("    - ", "Metrics between now and the controller's next sync: the controller reads fresh metrics at every "+
		"sync (every "+item.Controller.SyncPeriod+" here), so a later sample can change this decision"+thresholdsNote(item)+".")
}

// thresholdsNote points at the thresholds above, when any metric has one.
func thresholdsNote(item Item) string {
	for _, m := range item.Metrics {
		if m.NextStep != nil && (m.NextStep.ScaleUp != nil || m.NextStep.ScaleDown != nil) {
			return ". The thresholds above show how far a metric must move to change its proposal"
		}
	}
	return ""
}

// memoryLimitText states the memory assumption and the outcomes that another memory allows.
func memoryLimitText(item Item) string {
	text := "The controller's in-memory recommendations and scale events. Used: " + item.Memory.Description + "."
	r := item.OutcomeRange
	if r == nil || r.Lowest == r.Highest {
		if item.Memory.Source == string(MemoryFromFile) {
			return text + " The result is exact only if the file matches the controller's memory now."
		}
		return text + " Another memory would not change this decision."
	}
	if r.Lowest < item.DesiredReplicas {
		if item.Stabilization != nil && item.Stabilization.Held {
			text += fmt.Sprintf(" A scale-down to %d may happen on this decision if the real controller has been running with "+
				"recommendations of %d or lower for its whole %ds scale-down window.", r.Lowest, r.Lowest, item.Stabilization.DownWindowSeconds)
		} else {
			text += fmt.Sprintf(" A scale-down to %d may happen on this decision if the real controller remembers fewer scale "+
				"events in the policy periods than were assumed.", r.Lowest)
		}
	}
	if r.Highest > item.DesiredReplicas {
		if item.Stabilization != nil && item.Stabilization.Held {
			text += fmt.Sprintf(" A scale-up to %d may happen on this decision if the real controller's recommendations over its "+
				"%ds scale-up window were all %d or higher.", r.Highest, item.Stabilization.UpWindowSeconds, r.Highest)
		} else {
			text += fmt.Sprintf(" A scale-up to %d may happen on this decision if the real controller remembers fewer scale "+
				"events in the policy periods than were assumed.", r.Highest)
		}
	}
	return text
}

func deref(s *string) string {
	if s == nil {
		return "?"
	}
	return *s
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
