// The page tour's layout and target checks (tests/browser/tour.py): one evaluation in the
// page returns every problem it can see.
({phone}) => {
  const problems = [];
  const vw = document.documentElement.clientWidth;
  const name = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += '#' + el.id;
    const cls = (el.getAttribute('class') || '').trim().split(/\s+/).filter(Boolean).slice(0, 2);
    if (cls.length) s += '.' + cls.join('.');
    const text = (el.innerText || el.value || el.getAttribute('aria-label') || '').trim()
      .replace(/\s+/g, ' ').slice(0, 50);
    return text ? `${s} "${text}"` : s;
  };
  const shown = (el) => {
    const st = getComputedStyle(el);
    if (st.display === 'none' || st.visibility === 'hidden') return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  };
  // Hidden for sight but read by screen readers (.visually-hidden): 1 px and clipped on purpose.
  const srOnly = (el) => {
    const st = getComputedStyle(el);
    if (st.clip && st.clip !== 'auto') return true;
    if (st.clipPath && st.clipPath !== 'none') return true;
    const r = el.getBoundingClientRect();
    return r.width <= 2 && r.height <= 2;
  };
  const scroller = document.scrollingElement;
  if (phone && scroller.scrollWidth > vw + 1) {
    problems.push(`the page scrolls sideways: ${scroller.scrollWidth} px wide in a ${vw} px window`);
  }
  const reported = new Set();
  const insideReported = (el) => {
    for (let p = el.parentElement; p; p = p.parentElement) if (reported.has(p)) return true;
    return false;
  };
  const formControl = (el) => ['INPUT', 'SELECT', 'TEXTAREA', 'OPTION'].includes(el.tagName);
  for (const el of document.body.querySelectorAll('*')) {
    if (el instanceof SVGElement && el.tagName.toLowerCase() !== 'svg') continue;
    if (!shown(el) || insideReported(el)) continue;
    if (srOnly(el)) { reported.add(el); continue; }
    const st = getComputedStyle(el);
    if (!formControl(el) && st.overflowX !== 'visible' && el.scrollWidth > el.clientWidth + 1
        && el.clientWidth > 2) {
      const how = st.overflowX === 'hidden' || st.overflowX === 'clip'
        ? 'cuts off its content' : 'scrolls sideways';
      problems.push(`${name(el)} ${how}: ${el.scrollWidth} px of content in ${el.clientWidth} px`);
      reported.add(el);
      continue;
    }
    if (!formControl(el) && (st.overflowY === 'hidden' || st.overflowY === 'clip')
        && el.scrollHeight > el.clientHeight + 2 && el.clientHeight > 2
        && st.webkitLineClamp && st.webkitLineClamp !== 'none') {
      problems.push(`${name(el)} cuts off its lines`);
      reported.add(el);
      continue;
    }
    const r = el.getBoundingClientRect();
    if (r.right > vw + 1) {
      problems.push(`${name(el)} reaches past the window's right edge (${Math.round(r.right)} px of ${vw})`);
      reported.add(el);
    } else if (r.left < -1 && !el.matches('a[href^="#"]')) {
      // Moved off the left edge to hide it from sight (a skip link waits there for focus).
      problems.push(`${name(el)} is moved off the window's left edge (${Math.round(r.left)} px)`);
      reported.add(el);
    }
  }

  // WCAG 2.2 SC 2.5.8 Target Size (Minimum), with its spacing and inline exceptions.
  const selector = 'a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button], [role=link], [role=tab]';
  const targets = [];
  const inSentence = (el) => {
    if (el.tagName !== 'A' || getComputedStyle(el).display !== 'inline') return false;
    let block = el.parentElement;
    while (block && getComputedStyle(block).display === 'inline') block = block.parentElement;
    if (!block) return false;
    const own = (el.innerText || '').trim();
    const all = (block.innerText || '').replace(own, '').replace(/\s+/g, '');
    return all.length > 0;
  };
  for (const el of document.querySelectorAll(selector)) {
    if (!shown(el) || el.disabled) continue;
    if (el.closest('[inert], [aria-hidden=true]')) continue;
    let r = el.getBoundingClientRect();
    let rect = {left: r.left, top: r.top, right: r.right, bottom: r.bottom};
    if ((el.type === 'checkbox' || el.type === 'radio') && el.labels) {
      for (const label of el.labels) {
        const lr = label.getBoundingClientRect();
        rect = {left: Math.min(rect.left, lr.left), top: Math.min(rect.top, lr.top),
                right: Math.max(rect.right, lr.right), bottom: Math.max(rect.bottom, lr.bottom)};
      }
    }
    targets.push({el, rect, inline: inSentence(el)});
  }
  const w = (t) => t.rect.right - t.rect.left;
  const h = (t) => t.rect.bottom - t.rect.top;
  const small = targets.filter((t) => !t.inline && (w(t) < 23.5 || h(t) < 23.5));
  const centre = (t) => [(t.rect.left + t.rect.right) / 2, (t.rect.top + t.rect.bottom) / 2];
  const distanceToRect = ([x, y], rc) => {
    const dx = Math.max(rc.left - x, 0, x - rc.right);
    const dy = Math.max(rc.top - y, 0, y - rc.bottom);
    return Math.hypot(dx, dy);
  };
  const related = (a, b) => a.contains(b) || b.contains(a) || (a.labels && [...a.labels].some((l) => l.contains(b)));
  for (const t of small) {
    const c = centre(t);
    for (const o of targets) {
      if (o === t || related(t.el, o.el)) continue;
      const oSmall = small.includes(o);
      // Its 24 px circle may touch neither another target nor another small target's circle.
      const touches = distanceToRect(c, o.rect) < 12
        || (oSmall && Math.hypot(c[0] - centre(o)[0], c[1] - centre(o)[1]) < 24);
      if (touches) {
        problems.push(`target ${name(t.el)} is ${Math.round(w(t))} by ${Math.round(h(t))} px and too close to ${name(o.el)}`);
        break;
      }
    }
  }
  if (phone) {
    const primary = '.button, button[type=submit]:not(.link-button), button:not([type]):not(.link-button), input[type=submit]';
    for (const el of document.querySelectorAll(primary)) {
      if (!shown(el)) continue;
      const r = el.getBoundingClientRect();
      if (r.height < 43.5) problems.push(`action ${name(el)} is ${Math.round(r.height)} px tall on a phone (44 at least)`);
    }
  }
  return problems;
}
