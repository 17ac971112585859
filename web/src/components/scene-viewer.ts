/**
 * The 3D view of a scene (three.js): loads the GLB, lets the user orbit, colours each bound part,
 * highlights parts whose twin has an active alarm, labels parts with live values, and reports a
 * click on a part. Imported dynamically by the scene page only (three.js is not in the overview's
 * JavaScript). Renders on demand (a change, a drag, a resize), not in a loop. After each render it
 * reports the colour each bound part's material actually has, so the page (and tests) show the
 * drawn state, not only the intended one.
 */
import type { MeshStandardMaterial } from 'three';
import {
  Box3,
  BoxHelper,
  Color,
  DirectionalLight,
  HemisphereLight,
  Mesh,
  PerspectiveCamera,
  Raycaster,
  Scene,
  SRGBColorSpace,
  Vector2,
  Vector3,
  WebGLRenderer,
  type Object3D,
} from 'three';
import { GLTFLoader } from 'three/examples/jsm/loaders/GLTFLoader.js';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';
import { CSS2DObject, CSS2DRenderer } from 'three/examples/jsm/renderers/CSS2DRenderer.js';

export class WebGlUnavailable extends Error {
  constructor(cause: unknown) {
    super('This browser cannot draw 3D (WebGL is not available).', { cause });
    this.name = 'WebGlUnavailable';
  }
}

export interface SceneViewState {
  /** Part → colour (#rrggbb) for bound, coloured parts. */
  colours: ReadonlyMap<string, string>;
  /** Parts whose twin has an active alarm. */
  alarmed: ReadonlySet<string>;
  /** Part → label lines. */
  labels: ReadonlyMap<string, readonly string[]>;
}

export interface SceneViewer {
  update(state: SceneViewState): void;
  /** The background colour (the page's theme). */
  setBackground(colour: string): void;
  dispose(): void;
}

export interface SceneViewerOptions {
  container: HTMLElement;
  glb: ArrayBuffer;
  /** The background colour (#rrggbb, the page's theme). */
  background: string;
  /** Parts the binding names (only these are clickable and coloured). */
  bound: ReadonlySet<string>;
  onPick(part: string): void;
  /** After each render: part → the colour its material has (#rrggbb). */
  onRendered(colours: ReadonlyMap<string, string>): void;
}

const ALARM = new Color('#ff1744');

function partOf(o: Object3D): string | undefined {
  const p = (o.userData as { part?: unknown }).part;
  return typeof p === 'string' ? p : undefined;
}

/** @throws WebGlUnavailable when no WebGL context can be made; Error when the model cannot be read */
export async function createSceneViewer(o: SceneViewerOptions): Promise<SceneViewer> {
  let renderer: WebGLRenderer;
  try {
    renderer = new WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
  } catch (e) {
    throw new WebGlUnavailable(e);
  }
  renderer.outputColorSpace = SRGBColorSpace;
  renderer.setPixelRatio(Math.min(2, window.devicePixelRatio || 1));
  const canvas = renderer.domElement;
  canvas.setAttribute('role', 'img');
  canvas.setAttribute(
    'aria-label',
    'The scene in 3D: drag to turn, scroll to zoom, click a part to open its twin',
  );
  canvas.className = 'scene-canvas';
  const labels = new CSS2DRenderer();
  labels.domElement.className = 'scene-labels';
  labels.domElement.setAttribute('aria-hidden', 'true');

  const gltf = await new GLTFLoader().parseAsync(o.glb, '');
  const scene = new Scene();
  scene.add(gltf.scene);
  scene.add(new HemisphereLight(0xffffff, 0x404040, 2.2));
  const sun = new DirectionalLight(0xffffff, 2);
  sun.position.set(8, 20, 12);
  scene.add(sun);

  // Every bound part gets its own material (the GLB shares one per kind) and its label.
  const parts = new Map<
    string,
    { mesh: Mesh; material: MeshStandardMaterial; base: Color; label: CSS2DObject; outline?: BoxHelper }
  >();
  const meshes: Mesh[] = [];
  gltf.scene.traverse((obj) => {
    const part = partOf(obj);
    if (!(obj instanceof Mesh) || part === undefined || !o.bound.has(part)) return;
    const material = (obj.material as MeshStandardMaterial).clone();
    obj.material = material;
    const el = document.createElement('div');
    el.className = 'scene-label';
    const label = new CSS2DObject(el);
    // Above the part (its geometry is a unit shape scaled by the node).
    label.position.set(0, 0.75, 0);
    label.center.set(0.5, 1);
    obj.add(label);
    parts.set(part, { mesh: obj, material, base: material.color.clone(), label });
    meshes.push(obj);
  });

  const box = new Box3().setFromObject(gltf.scene);
  const size = box.getSize(new Vector3()).length() || 10;
  const centre = box.getCenter(new Vector3());
  const camera = new PerspectiveCamera(45, 1, size / 100, size * 10);
  camera.position.copy(centre).add(new Vector3(0, size * 0.55, size * 0.75));
  const controls = new OrbitControls(camera, canvas);
  controls.target.copy(centre);
  controls.update();

  o.container.append(canvas, labels.domElement);

  const render = () => {
    renderer.render(scene, camera);
    labels.render(scene, camera);
    const drawn = new Map<string, string>();
    for (const [part, p] of parts) drawn.set(part, `#${p.material.color.getHexString()}`);
    o.onRendered(drawn);
  };
  let queued = false;
  const requestRender = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      render();
    });
  };
  const resize = () => {
    const w = Math.max(1, o.container.clientWidth);
    const h = Math.max(1, o.container.clientHeight);
    renderer.setSize(w, h);
    labels.setSize(w, h);
    camera.aspect = w / h;
    camera.updateProjectionMatrix();
    requestRender();
  };
  const observer = new ResizeObserver(resize);
  observer.observe(o.container);
  controls.addEventListener('change', requestRender);

  const setBackground = (colour: string) => {
    scene.background = new Color(colour);
    requestRender();
  };
  setBackground(o.background);

  // A click (not a drag) on a bound part opens it.
  const ray = new Raycaster();
  const pick = (e: PointerEvent): string | undefined => {
    const r = canvas.getBoundingClientRect();
    const ndc = new Vector2(
      ((e.clientX - r.left) / r.width) * 2 - 1,
      -((e.clientY - r.top) / r.height) * 2 + 1,
    );
    ray.setFromCamera(ndc, camera);
    const hit = ray.intersectObjects(meshes, false)[0];
    return hit ? partOf(hit.object) : undefined;
  };
  let down: { x: number; y: number } | undefined;
  const onDown = (e: PointerEvent) => {
    down = { x: e.clientX, y: e.clientY };
  };
  const onUp = (e: PointerEvent) => {
    if (!down || Math.hypot(e.clientX - down.x, e.clientY - down.y) > 5) return;
    down = undefined;
    const part = pick(e);
    if (part !== undefined) o.onPick(part);
  };
  const onMove = (e: PointerEvent) => {
    if (e.buttons) return;
    canvas.style.cursor = pick(e) !== undefined ? 'pointer' : 'grab';
  };
  canvas.addEventListener('pointerdown', onDown);
  canvas.addEventListener('pointerup', onUp);
  canvas.addEventListener('pointermove', onMove);

  return {
    update(state) {
      for (const [part, p] of parts) {
        const c = state.colours.get(part);
        p.material.color.copy(c ? new Color(c) : p.base);
        const alarmed = state.alarmed.has(part);
        p.material.emissive.copy(alarmed ? ALARM : new Color(0));
        p.material.emissiveIntensity = alarmed ? 0.45 : 0;
        if (alarmed && !p.outline) {
          p.outline = new BoxHelper(p.mesh, ALARM);
          scene.add(p.outline);
        } else if (!alarmed && p.outline) {
          scene.remove(p.outline);
          p.outline.dispose();
          delete p.outline;
        }
        const lines = state.labels.get(part) ?? [];
        const el = p.label.element;
        el.replaceChildren(
          ...[part, ...lines].map((line, i) => {
            const d = document.createElement('div');
            d.textContent = line;
            if (i === 0) d.className = 'scene-label-name';
            return d;
          }),
        );
        el.classList.toggle('alarm', alarmed);
      }
      requestRender();
    },
    setBackground,
    dispose() {
      observer.disconnect();
      controls.dispose();
      canvas.removeEventListener('pointerdown', onDown);
      canvas.removeEventListener('pointerup', onUp);
      canvas.removeEventListener('pointermove', onMove);
      scene.traverse((obj) => {
        if (obj instanceof Mesh) {
          obj.geometry.dispose();
          (obj.material as MeshStandardMaterial).dispose();
        }
      });
      renderer.dispose();
      canvas.remove();
      labels.domElement.remove();
    },
  };
}
