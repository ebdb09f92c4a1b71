package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode/utf8"
)

// columnPadding is the space between table columns.
const columnPadding = 2

// minWrapWidth keeps wrapped text readable when the leading columns are wide.
const minWrapWidth = 30

// writeTable writes rows aligned with text/tabwriter, indented by indent spaces. The last column
// is word-wrapped so that lines fit in width; its continuation lines start under the column.
// header may be nil.
func writeTable(w io.Writer, indent, width int, header []string, rows [][]string) error {
	all := rows
	if header != nil {
		all = append([][]string{header}, rows...)
	}
	columns := 0
	for _, row := range all {
		columns = max(columns, len(row))
	}
	if columns == 0 {
		return nil
	}
	// The last column starts after the widest cell of every other column plus padding.
	lastStart := indent
	for c := 0; c < columns-1; c++ {
		widest := 0
		for _, row := range all {
			if c < len(row) {
				widest = max(widest, utf8.RuneCountInString(row[c]))
			}
		}
		lastStart += widest + columnPadding
	}
	wrapWidth := max(width-lastStart, minWrapWidth)

	tw := tabwriter.NewWriter(w, 0, 0, columnPadding, ' ', 0)
	prefix := strings.Repeat(" ", indent)
	for _, row := range all {
		cells := make([]string, columns)
		copy(cells, row)
		lines := wrapText(cells[columns-1], wrapWidth)
		for i, line := range lines {
			lead := cells[:columns-1]
			if i > 0 {
				lead = make([]string, columns-1)
			}
			var b strings.Builder
			b.WriteString(prefix)
			for _, cell := range lead {
				b.WriteString(cell)
				b.WriteByte('\t')
			}
			b.WriteString(line)
			if _, err := fmt.Fprintln(tw, strings.TrimRight(b.String(), " ")); err != nil {
				return err
			}
		}
	}
	return tw.Flush()
}

// wrapText splits text into lines of at most width runes at spaces. A word longer than width
// gets a line of its own. Empty text gives one empty line.
func wrapText(text string, width int) []string {
	words := strings.Fields(text)
	if len(words) == 0 {
		return []string{""}
	}
	var lines []string
	line := words[0]
	for _, word := range words[1:] {
		if utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) > width {
			lines = append(lines, line)
			line = word
			continue
		}
		line += " " + word
	}
	return append(lines, line)
}

// writeWrapped writes text word-wrapped to width, with first before the first line and the
// continuation lines indented to line up after it.
func writeWrapped(w io.Writer, first string, text string, width int) error {
	hanging := strings.Repeat(" ", utf8.RuneCountInString(first))
	for i, line := range wrapText(text, max(width-len(hanging), minWrapWidth)) {
		lead := first
		if i > 0 {
			lead = hanging
		}
		if _, err := fmt.Fprintln(w, strings.TrimRight(lead+line, " ")); err != nil {
			return err
		}
	}
	return nil
}
