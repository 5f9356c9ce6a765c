package plugin

import (
	"bytes"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"image"
	"image/color"
	"image/png"
	"io"
	"strconv"
	"strings"
	"unicode"

	"github.com/docker-layers/docker-layers/analyze"
)

// The page is one self-contained file: the templates, the style sheet and the small
// script are embedded in the binary and inlined, so the page opens from a CI artefact
// store or an e-mail attachment and fetches nothing. html/template escapes every value
// (image names, history text and file paths come from untrusted images); only our own
// style sheet, script and generated heat-map picture bypass it.
//
//go:embed html
var htmlFiles embed.FS

var htmlTemplates = template.Must(template.New("").Funcs(template.FuncMap{
	"human": htmlHuman,
	"bytes": htmlBytes,
	"value": htmlValue,
	"pct":   func(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) },
	"instr": func(s string) string { return htmlVisible(ellipsis(s, 100)) },
	"vis":   visible,
	"short": func(id string) string { return shortID(id, false) },
	"hasMeta": func(segs []htmlSeg) bool {
		for _, s := range segs {
			if s.Meta != "" {
				return true
			}
		}
		return false
	},
	"jsonKey": jsonKey,
	"cell":    func(key string, n *int64) htmlCell { return htmlCell{Key: key, N: n} },
	"containerOf": func(n int, anchor string, c *containerJSON) htmlContainer {
		return htmlContainer{N: n, Anchor: anchor, C: c}
	},
}).ParseFS(htmlFiles, "html/*.tmpl"))

var (
	htmlCSS = mustRead("html/page.css")
	htmlJS  = mustRead("html/page.js")
)

func mustRead(name string) string {
	b, err := htmlFiles.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// visible passes a template value through, with the text of a string made visible
// (htmlVisible); html/template escapes it after.
func visible(v any) any {
	if s, ok := v.(string); ok {
		return htmlVisible(s)
	}
	return v
}

// htmlVisible shows the characters that would change how text from an image reads
// without being seen (bidirectional overrides, zero-width and other format
// characters, control characters but newline and tab) as Go escapes, as termSafe does
// for a terminal: escaping markup is html/template's job, this is the reader's.
func htmlVisible(s string) string {
	if strings.IndexFunc(s, hiddenInHTML) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case !hiddenInHTML(r):
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

func hiddenInHTML(r rune) bool {
	return r != '\n' && r != '\t' && r != unicode.ReplacementChar && needsEscape(r)
}

// htmlContainer is a container's part of the inspect page: N and Anchor are its
// image's.
type htmlContainer struct {
	N      int
	Anchor string
	C      *containerJSON
}

// htmlCell is one figure in a table: its bytes and where the JSON output holds them.
type htmlCell struct {
	Key string
	N   *int64
}

// jsonKey is the path of a figure in the command's JSON output ("0.layers.3.size"):
// each figure on the page carries it in data-json, so tests can hold the page to the
// JSON.
func jsonKey(parts ...any) string {
	var b strings.Builder
	for _, p := range parts {
		fmt.Fprint(&b, p)
	}
	return b.String()
}

// htmlPage is what the page frame gets: the command's own part is Body.
type htmlPage struct {
	Title   string
	Command string
	CSS     template.CSS
	JS      template.JS
	Body    any
}

func writeHTML(w io.Writer, name, title string, body any) error {
	p := htmlPage{Title: title, Command: name, CSS: template.CSS(htmlCSS), JS: template.JS(htmlJS), Body: body}
	if err := htmlTemplates.ExecuteTemplate(w, name, p); err != nil {
		return fmt.Errorf("writing the HTML page: %w", err)
	}
	return nil
}

// htmlHuman is a size as the tables print it; "?" when unknown.
func htmlHuman(n any) string {
	switch n := n.(type) {
	case *int64:
		return jsonSize(n)
	case int64:
		return humanSize(n)
	}
	return "?"
}

// htmlBytes is an exact byte count with thousands separators: "1,234,567 bytes".
func htmlBytes(n any) string {
	switch n := n.(type) {
	case *int64:
		if n == nil {
			return "unknown"
		}
		return groupDigits(*n) + " bytes"
	case int64:
		if n == analyze.Unknown {
			return "unknown"
		}
		return groupDigits(n) + " bytes"
	}
	return "unknown"
}

// htmlValue is a size for a data-value attribute: bytes, "" when unknown (JSON null).
func htmlValue(n any) string {
	switch n := n.(type) {
	case *int64:
		if n != nil {
			return strconv.FormatInt(*n, 10)
		}
	case int64:
		if n != analyze.Unknown {
			return strconv.FormatInt(n, 10)
		}
	}
	return ""
}

func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// barWidth is the width of every bar in SVG user units; the picture scales to the page.
const barWidth = 1000.0

// htmlSeg is one segment of a stacked bar.
type htmlSeg struct {
	X, W  float64
	Class string // the fill: a palette colour, "shared", "unique", …
	Label string // short text drawn inside the segment when it fits
	Title string // the tooltip: exact figures
	Href  string // the table row the segment stands for
	// Meta lists the metadata-only steps that follow the layer; MetaMark is the
	// marker drawn under the bar where they sit.
	Meta     string
	MetaMark string
}

// barPart is what a segment is made from.
type barPart struct {
	size         *int64
	class, label string
	title, href  string
	meta         string
}

// stackBar lays parts side by side over barWidth, in proportion to their sizes; a part
// of 0 bytes (WORKDIR's empty layer) keeps a sliver so that it can be seen and focused.
// It returns nil when a size is unknown.
func stackBar(parts []barPart) []htmlSeg {
	const sliver = 3.0
	var total int64
	for _, p := range parts {
		if p.size == nil {
			return nil
		}
		total += *p.size
	}
	room := barWidth - sliver*float64(len(parts))
	if room < barWidth/2 {
		room = barWidth / 2
	}
	var raw []float64
	var sum float64
	for _, p := range parts {
		w := sliver
		if total > 0 {
			w += room * float64(*p.size) / float64(total)
		}
		raw = append(raw, w)
		sum += w
	}
	segs := make([]htmlSeg, len(parts))
	x := 0.0
	for i, p := range parts {
		w := raw[i] * barWidth / sum
		label := ""
		if chars := int(w / 7.5); chars >= 3 {
			label = ellipsis(p.label, chars)
		}
		segs[i] = htmlSeg{X: x, W: w, Class: p.class, Label: htmlVisible(label), Title: htmlVisible(p.title), Href: p.href, Meta: htmlVisible(p.meta)}
		x += w
		if p.meta != "" {
			// A small triangle under the boundary after the layer.
			mx := min(max(x, 6), barWidth-6)
			segs[i].MetaMark = fmt.Sprintf("%.2f,30 %.2f,40 %.2f,40", mx, mx-5, mx+5)
		}
	}
	return segs
}

// paletteSize is how many layer colours the style sheet defines (c0 … c7); layers are
// also numbered, so colour is never the only way to tell them apart.
const paletteSize = 8

// ---- inspect ----

type htmlInspect struct {
	Images []htmlInspectImage
}

type htmlInspectImage struct {
	N              int // the image's index in the JSON array
	Anchor         string
	Image, ID      string
	Platform       string
	Size           *int64
	CompressedSize *int64
	Compressed     bool
	HistoryMatched bool
	HistoryProblem string
	Layers         int
	MetadataSteps  int
	Bars           []htmlBar
	Rows           []htmlInspectRow
	Config         configJSON
	// Container is the container inspected on top of the image; nil for an image.
	Container *containerJSON
}

type htmlBar struct {
	Label string
	Total *int64
	Segs  []htmlSeg
}

type htmlInspectRow struct {
	Layer          *layerJSON // nil for a metadata-only step
	Anchor         string
	Class          string
	Instruction    string
	CreatedBy      string
	Comment        string
	Created        string
	Share          string
	MetadataOnly   bool
	HistoryUnknown bool
}

func writeInspectHTML(w io.Writer, v []inspectJSON) error {
	page := htmlInspect{}
	var names []string
	for i, in := range v {
		page.Images = append(page.Images, newHTMLInspectImage(i, in))
		names = append(names, in.Image)
	}
	return writeHTML(w, "inspect", "docker layers inspect "+strings.Join(names, " "), page)
}

func newHTMLInspectImage(n int, in inspectJSON) htmlInspectImage {
	im := htmlInspectImage{
		N: n, Anchor: fmt.Sprintf("image-%d", n), Image: in.Image, ID: in.ID, Platform: in.platform(),
		Size: in.Size, CompressedSize: in.CompressedSize, Compressed: in.compressedKnown(),
		HistoryMatched: in.HistoryMatched, HistoryProblem: in.HistoryProblem,
		Layers: len(in.Layers), MetadataSteps: len(in.Steps) - in.layerSteps(), Config: in.Config,
		Container: in.Container,
	}
	im.Rows = inspectHTMLRows(in, im.Anchor)
	steps, metaAfter := layerSteps(in)
	bar := func(label string, total *int64, size func(l layerJSON) *int64, what string) htmlBar {
		var parts []barPart
		for _, l := range in.Layers {
			parts = append(parts, layerPart(l, steps[l.Index], size(l), what, im.Anchor, in.HistoryMatched, metaAfter[l.Index]))
		}
		return htmlBar{Label: label, Total: total, Segs: stackBar(parts)}
	}
	im.Bars = append(im.Bars, bar("Uncompressed", in.Size, func(l layerJSON) *int64 { return l.Size }, "uncompressed"))
	if im.Compressed {
		im.Bars = append(im.Bars, bar("Compressed", in.CompressedSize, func(l layerJSON) *int64 { return l.CompressedSize }, "compressed"))
	}
	if c := in.Container; c != nil {
		im.Bars = append(im.Bars, htmlBar{Label: "Container (virtual)", Total: c.SizeRootFs, Segs: stackBar([]barPart{
			{size: in.Size, class: "image", label: "image " + jsonSize(in.Size), title: fmt.Sprintf("The image's layers: %s uncompressed (%s)", jsonSize(in.Size), htmlBytes(in.Size))},
			{size: c.SizeRw, class: "rw", label: "rw " + jsonSize(c.SizeRw), title: fmt.Sprintf("Writable layer of %s: %s uncompressed (%s), as docker ps -s counts it", c.Name, jsonSize(c.SizeRw), htmlBytes(c.SizeRw)),
				href: "#" + im.Anchor + "-container"},
		})})
	}
	return im
}

// layerSteps returns the step that made each layer and, per layer, the metadata-only
// steps between it and the next layer (steps below the first layer go with it); both
// empty when the history does not match the layers.
func layerSteps(in inspectJSON) (steps []stepJSON, metaAfter [][]string) {
	steps = make([]stepJSON, len(in.Layers))
	metaAfter = make([][]string, len(in.Layers))
	if !in.HistoryMatched || len(in.Layers) == 0 {
		return steps, metaAfter
	}
	last := 0
	for _, s := range in.Steps {
		if s.Layer != nil {
			steps[*s.Layer], last = s, *s.Layer
			continue
		}
		metaAfter[last] = append(metaAfter[last], stepLabel(s.Instruction, s.Comment))
	}
	return steps, metaAfter
}

// inspectHTMLRows are the rows of an image's table of steps: every step in build
// order, or every layer when the history does not match them.
func inspectHTMLRows(in inspectJSON, anchor string) []htmlInspectRow {
	var rows []htmlInspectRow
	layerRow := func(l layerJSON, s stepJSON) htmlInspectRow {
		return htmlInspectRow{
			Layer: &l, Anchor: fmt.Sprintf("%s-layer-%d", anchor, l.Index), Class: fmt.Sprintf("c%d", l.Index%paletteSize),
			Instruction: stepLabel(s.Instruction, s.Comment), CreatedBy: s.CreatedBy, Comment: s.Comment,
			Created: rfc3339(s.Created), Share: shareOf(l.Size, in.Size), HistoryUnknown: !in.HistoryMatched,
		}
	}
	if !in.HistoryMatched {
		for _, l := range in.Layers {
			rows = append(rows, layerRow(l, stepJSON{}))
		}
		return rows
	}
	for _, s := range in.Steps {
		if s.Layer != nil {
			rows = append(rows, layerRow(in.Layers[*s.Layer], s))
			continue
		}
		rows = append(rows, htmlInspectRow{
			Instruction: stepLabel(s.Instruction, s.Comment), CreatedBy: s.CreatedBy, Comment: s.Comment,
			Created: rfc3339(s.Created), MetadataOnly: true,
		})
	}
	return rows
}

// layerPart is a layer's segment of an image's bar: numbered, labelled with its
// instruction, its exact size, diffID and history text in the tooltip.
func layerPart(l layerJSON, s stepJSON, size *int64, what, anchor string, matched bool, meta []string) barPart {
	instr := "?"
	if matched {
		instr = stepLabel(s.Instruction, s.Comment)
	}
	return barPart{
		size: size, class: fmt.Sprintf("c%d", l.Index%paletteSize),
		label: fmt.Sprintf("%d %s", l.Index, instr),
		title: fmt.Sprintf("Layer %d: %s %s (%s)\n%s\ndiffID %s\n%s", l.Index, htmlHuman(size), what, htmlBytes(size),
			instr, l.DiffID, orDefault(s.CreatedBy, "(no history text)")),
		href: fmt.Sprintf("#%s-layer-%d", anchor, l.Index),
		meta: metaText(l.Index, meta),
	}
}

// metaText words the metadata-only steps after a layer for its marker's tooltip.
func metaText(layer int, steps []string) string {
	if len(steps) == 0 {
		return ""
	}
	return fmt.Sprintf("After layer %d, %s (no layer):\n%s", layer, plural(len(steps), "metadata-only step"), strings.Join(steps, "\n"))
}

// ---- diff ----

type htmlDiff struct {
	V        diffJSON
	Rows     []htmlDiffRow
	Break    []string // the first break, worded as the table words it
	BreakAt  string
	Max      int64 // the largest layer, which the step bars are drawn against
	Figure   []htmlBar
	Transfer string
	NewSize  *int64
	// FilesCompared is set when the layers at the break were read (an empty list
	// then means no file differs).
	FilesCompared bool
}

type htmlDiffRow struct {
	Index       string
	LayerIndex  int
	Status      string
	Symbol      string
	SameContent bool
	Old, New    *diffSideJSON
	OldW, NewW  float64 // bar widths in percent of the column
	OldText     string
	NewText     string
	OldRaw      string
	NewRaw      string
	Changed     bool
	Break       bool
	Metadata    bool
}

// statusSymbols mark each status with a sign as well as a colour.
var statusSymbols = map[string]string{
	string(analyze.StatusReused):  "=",
	string(analyze.StatusRebuilt): "↻",
	string(analyze.StatusAdded):   "+",
	string(analyze.StatusRemoved): "−",
}

func writeDiffHTML(w io.Writer, v diffJSON) error {
	p := htmlDiff{V: v, Transfer: transferText(v)}
	p.Rows, p.Max = diffHTMLRows(v)
	if b := v.FirstBreak; b != nil {
		p.BreakAt = "above the top layer"
		if b.Index != nil {
			p.BreakAt = fmt.Sprintf("at layer %d", *b.Index)
		}
		p.Break = breakExplanation(b)
		p.FilesCompared = b.ChangedFiles != nil
	}
	if v.ReusedSize != nil && v.RebuiltSize != nil {
		reused, rebuilt := *v.ReusedSize, *v.RebuiltSize
		newSize := reused + rebuilt
		p.NewSize = &newSize
		p.Figure = []htmlBar{{Label: "NEW, uncompressed", Total: &newSize, Segs: stackBar([]barPart{
			{size: &reused, class: "reused", label: "reused " + humanSize(reused), title: fmt.Sprintf("Reused from OLD: %s uncompressed (%s)", humanSize(reused), htmlBytes(reused))},
			{size: &rebuilt, class: "rebuilt", label: "rebuilt or added " + humanSize(rebuilt), title: fmt.Sprintf("Rebuilt or added: %s uncompressed (%s)", humanSize(rebuilt), htmlBytes(rebuilt))},
		})}}
	}
	title := fmt.Sprintf("docker layers diff %s %s", v.Old.Image, v.New.Image)
	return writeHTML(w, "diff", title, p)
}

// diffHTMLRows are the aligned rows of both stacks (every step, or every layer when a
// history does not match), each layer's bars drawn against the largest layer, which
// it returns too.
func diffHTMLRows(v diffJSON) (rows []htmlDiffRow, largest int64) {
	for _, l := range v.Layers {
		for _, s := range []*diffSideJSON{l.Old, l.New} {
			if s != nil && s.Size != nil {
				largest = max(largest, *s.Size)
			}
		}
	}
	width := func(s *diffSideJSON) float64 {
		if s == nil || s.Size == nil || largest == 0 {
			return 0
		}
		return max(100*float64(*s.Size)/float64(largest), 0.5)
	}
	text := func(s *stepTextJSON) (string, string) {
		if s == nil {
			return "", ""
		}
		return stepLabel(s.Instruction, s.Comment), s.CreatedBy
	}
	layerRow := func(l diffLayerJSON) htmlDiffRow {
		return htmlDiffRow{
			Index: fmt.Sprint(l.Index), LayerIndex: l.Index, Status: l.Status, Symbol: statusSymbols[l.Status],
			SameContent: l.SameContent, Old: l.Old, New: l.New, OldW: width(l.Old), NewW: width(l.New),
		}
	}
	b := v.FirstBreak
	if !v.HistoryMatched {
		for _, l := range v.Layers {
			r := layerRow(l)
			r.OldText, r.NewText = "?", "?"
			r.Break = b != nil && b.Index != nil && *b.Index == l.Index
			rows = append(rows, r)
		}
		return rows, largest
	}
	for i, s := range v.Steps {
		r := htmlDiffRow{Status: s.Status, Symbol: statusSymbols[s.Status], Metadata: s.Layer == nil, LayerIndex: -1}
		if s.Layer != nil {
			r = layerRow(v.Layers[*s.Layer])
		}
		r.OldText, r.OldRaw = text(s.Old)
		r.NewText, r.NewRaw = text(s.New)
		r.Changed = s.InstructionChanged
		r.Break = b != nil && b.Step != nil && *b.Step == i
		rows = append(rows, r)
	}
	return rows, largest
}

// ---- shared ----

type htmlShared struct {
	V            sharedJSON
	Uncompressed bool
	Compressed   bool
	Images       []htmlSharedImage
	Layers       []htmlSharedLayer
	Heat         *htmlHeat
}

type htmlSharedImage struct {
	sharedImageJSON
	N    int
	Num  string
	Bars []htmlSeg
}

type htmlSharedLayer struct {
	sharedLayerJSON
	N     int
	Label string
}

// htmlHeat is the image × image matrix as a heat map: a table of coloured cells for a
// few images, a picture (with the numbers in the JSON) for many.
type htmlHeat struct {
	Nums    []string
	Rows    []htmlHeatRow
	Picture template.URL
	Size    int // picture side in pixels
	FromArg bool
}

type htmlHeatRow struct {
	Num   string
	Image string
	Cells []htmlHeatCell
}

type htmlHeatCell struct {
	Bytes int64
	Level int // 0 … 5: how much of the smaller image the pair shares
	Title string
}

// heatTableMax is the most images the heat map draws as a table of numbers, and
// heatPictureMax the most it draws at all: a registry's thousands of images would make
// a picture of millions of pixels that says nothing.
const (
	heatTableMax   = 40
	heatPictureMax = 1000
)

func writeSharedHTML(w io.Writer, v sharedJSON) error {
	p := htmlShared{V: v, Compressed: v.CompressedTotalSize != nil}
	p.Uncompressed = v.TotalSize != nil || !p.Compressed
	num := imageNumbers(v)
	for i, im := range v.Images {
		shared, unique := im.SharedSize, im.UniqueSize
		what := "uncompressed"
		if !p.Uncompressed {
			shared, unique, what = im.CompressedSharedSize, im.CompressedUniqueSize, "compressed"
		}
		p.Images = append(p.Images, htmlSharedImage{sharedImageJSON: im, N: i, Num: num[i], Bars: stackBar([]barPart{
			{size: shared, class: "shared", title: fmt.Sprintf("%s: %s shared with other images (%s, %s)", im.Image, htmlHuman(shared), what, htmlBytes(shared))},
			{size: unique, class: "unique", title: fmt.Sprintf("%s: %s unique to it (%s, %s)", im.Image, htmlHuman(unique), what, htmlBytes(unique))},
		})})
	}
	for i, l := range v.Layers {
		label := stepLabel(l.Instruction, l.Comment)
		if label == "" {
			label = "?"
		}
		p.Layers = append(p.Layers, htmlSharedLayer{sharedLayerJSON: l, N: i, Label: label})
	}
	matrix := v.Matrix
	if matrix == nil {
		matrix = v.heat
	}
	if len(matrix) > 1 && len(matrix) <= heatPictureMax {
		p.Heat = newHTMLHeat(v, num, matrix)
	}
	return writeHTML(w, "shared", fmt.Sprintf("docker layers shared: %s", plural(distinctImages(v), "image")), p)
}

func newHTMLHeat(v sharedJSON, num []string, m [][]int64) *htmlHeat {
	h := &htmlHeat{Nums: num, FromArg: v.Matrix != nil}
	// ratio is how much of the smaller of two images they share.
	ratio := func(i, j int) float64 {
		smaller := min(m[i][i], m[j][j])
		if smaller <= 0 || m[i][j] <= 0 {
			return 0
		}
		return float64(m[i][j]) / float64(smaller)
	}
	level := func(i, j int) int {
		if r := ratio(i, j); r > 0 {
			return min(1+int(4*r), 5)
		}
		return 0
	}
	if len(m) > heatTableMax {
		h.Picture, h.Size = heatPicture(m, ratio), len(m)
		return h
	}
	for i, row := range m {
		r := htmlHeatRow{Num: num[i], Image: v.Images[i].Image}
		for j, n := range row {
			r.Cells = append(r.Cells, htmlHeatCell{Bytes: n, Level: level(i, j),
				Title: htmlVisible(fmt.Sprintf("#%s %s and #%s %s share %s uncompressed (%s)", num[i], v.Images[i].Image, num[j], v.Images[j].Image, humanSize(n), htmlBytes(n)))})
		}
		h.Rows = append(h.Rows, r)
	}
	return h
}

// heatColours are the heat map's levels, pale to dark, legible in both colour schemes.
var heatColours = []color.RGBA{
	{0xf2, 0xf2, 0xf2, 0xff}, {0xde, 0xeb, 0xf7, 0xff}, {0x9e, 0xca, 0xe1, 0xff},
	{0x42, 0x92, 0xc6, 0xff}, {0x21, 0x66, 0xac, 0xff}, {0x08, 0x30, 0x6b, 0xff},
}

// heatColour is the colour of a share r (0 … 1) on the heat scale.
func heatColour(r float64) color.RGBA {
	if r <= 0 {
		return heatColours[0]
	}
	pos := 1 + 4*min(r, 1) // 1 … 5 over the levels' colours
	k := min(int(pos), 4)
	f := pos - float64(k)
	a, b := heatColours[k], heatColours[k+1]
	mix := func(x, y uint8) uint8 { return uint8(float64(x) + (float64(y)-float64(x))*f + 0.5) }
	return color.RGBA{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B), 0xff}
}

// heatPicture draws a large matrix as a PNG, one pixel per pair, as a data: URL: a
// table of 90,000 cells would not fit the page. Its colours run continuously along the
// levels' scale, so that pairs within one level still differ.
func heatPicture(m [][]int64, ratio func(i, j int) float64) template.URL {
	img := image.NewRGBA(image.Rect(0, 0, len(m), len(m)))
	for i := range m {
		for j := range m {
			img.SetRGBA(j, i, heatColour(ratio(i, j)))
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return ""
	}
	// Our own PNG's base64: no text from an image reaches this URL.
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()))
}
