// Optional: the page reads the same without this. It adds sortable columns and a
// tooltip that follows hover and keyboard focus on the bar segments.
(function () {
	"use strict";
	function cellValue(td) {
		if (!td) { return ""; }
		var v = td.getAttribute("data-value");
		if (v !== null && v !== "") { return Number(v); }
		return td.textContent.trim().toLowerCase();
	}
	function compare(a, b) {
		if (typeof a === "number" && typeof b === "number") { return a - b; }
		return String(a).localeCompare(String(b), undefined, { numeric: true });
	}
	document.querySelectorAll("table.sortable").forEach(function (table) {
		var heads = table.tHead ? table.tHead.rows[0].cells : [];
		Array.prototype.forEach.call(heads, function (th, col) {
			var button = document.createElement("button");
			button.className = "sort";
			button.type = "button";
			while (th.firstChild) { button.appendChild(th.firstChild); }
			th.appendChild(button);
			button.addEventListener("click", function () {
				var desc = th.getAttribute("aria-sort") === "ascending";
				Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
				th.setAttribute("aria-sort", desc ? "descending" : "ascending");
				var body = table.tBodies[0];
				var rows = Array.prototype.slice.call(body.rows);
				rows.sort(function (r1, r2) {
					var c = compare(cellValue(r1.cells[col]), cellValue(r2.cells[col]));
					return desc ? -c : c;
				});
				rows.forEach(function (r) { body.appendChild(r); });
			});
		});
	});
	// A printout shows what the folded history texts hold.
	window.addEventListener("beforeprint", function () {
		document.querySelectorAll("details").forEach(function (d) { d.open = true; });
	});
	var tip = document.createElement("div");
	tip.id = "tip";
	tip.setAttribute("role", "tooltip");
	tip.hidden = true;
	document.body.appendChild(tip);
	function show(seg, x, y) {
		var t = seg.querySelector("title");
		if (!t) { return; }
		tip.textContent = t.textContent;
		tip.hidden = false;
		var w = tip.offsetWidth, h = tip.offsetHeight;
		tip.style.left = Math.max(4, Math.min(x + 12, window.innerWidth - w - 4)) + "px";
		tip.style.top = Math.max(4, Math.min(y + 12, window.innerHeight - h - 4)) + "px";
	}
	document.querySelectorAll("svg a.seg, svg g.metamark").forEach(function (seg) {
		seg.addEventListener("mousemove", function (e) { show(seg, e.clientX, e.clientY); });
		seg.addEventListener("mouseleave", function () { tip.hidden = true; });
		seg.addEventListener("focus", function () {
			var r = seg.getBoundingClientRect();
			show(seg, r.left, r.bottom);
		});
		seg.addEventListener("blur", function () { tip.hidden = true; });
	});
}());
