/**
 * The relationship graph (Cytoscape.js): twins as nodes, relationships as labelled edges. A click
 * on a twin selects it (the page walks from there); a double click opens its page.
 */
import cytoscape, { type Core, type ElementDefinition } from 'cytoscape';
import { useEffect, useRef } from 'react';
import type { GraphElement } from '../lib/graph.js';

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

export function GraphView(props: {
  elements: readonly GraphElement[];
  selected?: string | undefined;
  onSelect: (twinId: string) => void;
  onOpen: (twinId: string) => void;
  label: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const cy = useRef<Core | undefined>(undefined);
  const handlers = useRef(props);
  handlers.current = props;

  useEffect(() => {
    if (!box.current) return;
    const fg = cssVar('--fg', '#1d2430');
    const accent = cssVar('--accent', '#1456b8');
    const muted = cssVar('--muted', '#5a6474');
    const bg = cssVar('--bg', '#ffffff');
    const c = cytoscape({
      container: box.current,
      elements: [],
      minZoom: 0.2,
      maxZoom: 3,
      style: [
        {
          selector: 'node',
          style: {
            'background-color': accent,
            label: 'data(label)',
            color: fg,
            'font-size': 11,
            'text-valign': 'bottom',
            'text-margin-y': 4,
            width: 18,
            height: 18,
            'text-background-color': bg,
            'text-background-opacity': 0.8,
            'text-background-padding': '1px',
          },
        },
        { selector: 'node.outside', style: { 'background-color': muted, opacity: 0.7 } },
        { selector: 'node.focus', style: { 'border-width': 3, 'border-color': fg } },
        {
          selector: 'node:selected',
          style: { 'background-color': '#d9480f', 'border-width': 3, 'border-color': fg },
        },
        {
          selector: 'edge',
          style: {
            width: 1.5,
            'line-color': muted,
            'target-arrow-color': muted,
            'target-arrow-shape': 'triangle',
            'curve-style': 'bezier',
            label: 'data(label)',
            'font-size': 9,
            color: muted,
            'text-rotation': 'autorotate',
            'text-background-color': bg,
            'text-background-opacity': 0.8,
          },
        },
      ],
    });
    c.on('tap', 'node', (e) => handlers.current.onSelect(String(e.target.data('twinId'))));
    c.on('dbltap', 'node', (e) => handlers.current.onOpen(String(e.target.data('twinId'))));
    cy.current = c;
    return () => {
      c.destroy();
      cy.current = undefined;
    };
  }, []);

  useEffect(() => {
    const c = cy.current;
    if (!c) return;
    const wanted = new Set(props.elements.map((e) => e.data['id']!));
    c.batch(() => {
      c.elements().forEach((el) => {
        if (!wanted.has(el.id())) el.remove();
      });
      const add: ElementDefinition[] = [];
      for (const e of props.elements) {
        const existing = c.getElementById(e.data['id']!);
        if (existing.nonempty()) {
          existing.classes(e.classes ?? '');
          existing.data(e.data);
        } else
          add.push({ group: e.group, data: { ...e.data }, ...(e.classes ? { classes: e.classes } : {}) });
      }
      // Nodes before edges (an edge needs its ends).
      c.add(add.sort((a, b) => (a.group === b.group ? 0 : a.group === 'nodes' ? -1 : 1)));
    });
    // Top to bottom from the twins nothing points at (a site, then its lines, then equipment).
    const roots = c.nodes().roots();
    c.layout({
      name: 'breadthfirst',
      directed: true,
      spacingFactor: 1.1,
      padding: 20,
      animate: false,
      ...(roots.nonempty() ? { roots } : {}),
    }).run();
  }, [props.elements]);

  useEffect(() => {
    const c = cy.current;
    if (!c) return;
    c.nodes().unselect();
    if (props.selected !== undefined)
      c.nodes()
        .filter((n) => n.data('twinId') === props.selected)
        .select();
  }, [props.selected, props.elements]);

  return (
    <div
      ref={box}
      className="graph"
      role="img"
      aria-label={props.label}
      data-nodes={props.elements.filter((e) => e.group === 'nodes').length}
      data-edges={props.elements.filter((e) => e.group === 'edges').length}
    />
  );
}
