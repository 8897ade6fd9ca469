/**
 * GLSL 3 (WebGL2) shaders of the Volume3D view. The volume is a unit box
 * ([-0.5, 0.5]³ in its own space) drawn with its back faces; each fragment
 * marches a ray from the camera through a 3D texture (float16, values
 * normalised to the data range), stopping at the first visible cut plane.
 * Modes: 0 maximum intensity, 1 isosurface (bisection refinement, gradient
 * normals, headlight Blinn-Phong), 2 front-to-back compositing with the
 * opacity ramp and step correction of volume-math.ts.
 */

export const MODE_CODE = { mip: 0, iso: 1, composite: 2 } as const;

export const VOLUME_VERTEX = /* glsl */ `
out vec3 vOrigin;
out vec3 vPosition;
void main() {
  vOrigin = (inverse(modelMatrix) * vec4(cameraPosition, 1.0)).xyz;
  vPosition = position;
  gl_Position = projectionMatrix * modelViewMatrix * vec4(position, 1.0);
}`;

export const VOLUME_FRAGMENT = /* glsl */ `
precision highp float;
precision highp sampler3D;
in vec3 vOrigin;
in vec3 vPosition;
out vec4 outColor;
uniform sampler3D volume;
uniform sampler2D lut;
uniform vec3 size;        // LOD voxels (x, y, z)
uniform vec3 extent;      // physical box (x, y, z), for gradients
uniform int mode;
uniform float vmin;       // in normalised texture space
uniform float vmax;
uniform float threshold;
uniform float opacity;
uniform float stepRatio;  // ray step in LOD voxels (1 = one sample per voxel)
uniform vec3 planes;      // cut plane positions in box space (x, y, z)
uniform vec3 planeOn;     // 1 where a plane is shown

vec2 hitBox(vec3 o, vec3 d) {
  vec3 inv = 1.0 / d;
  vec3 t0 = (vec3(-0.5) - o) * inv;
  vec3 t1 = (vec3(0.5) - o) * inv;
  vec3 tmin = min(t0, t1);
  vec3 tmax = max(t0, t1);
  return vec2(max(max(tmin.x, tmin.y), tmin.z), min(min(tmax.x, tmax.y), tmax.z));
}

float sampleAt(vec3 p) { return texture(volume, p + 0.5).r; }

vec4 cmap(float t) {
  return texture(lut, vec2((clamp(t, 0.0, 1.0) * 255.0 + 0.5) / 256.0, 0.5));
}

vec3 normalAt(vec3 p) {
  vec3 h = 1.0 / size;
  vec3 g = vec3(
    sampleAt(p + vec3(h.x, 0, 0)) - sampleAt(p - vec3(h.x, 0, 0)),
    sampleAt(p + vec3(0, h.y, 0)) - sampleAt(p - vec3(0, h.y, 0)),
    sampleAt(p + vec3(0, 0, h.z)) - sampleAt(p - vec3(0, 0, h.z)));
  g /= extent / size;  // per physical length
  float l = length(g);
  return l > 0.0 ? -g / l : vec3(0.0, 0.0, 1.0);
}

void main() {
  vec3 d = normalize(vPosition - vOrigin);
  vec2 b = hitBox(vOrigin, d);
  float t0 = max(b.x, 0.0);
  float t1 = b.y;
  // a shown cut plane the ray meets inside the box: in composite mode the translucent volume in front of it
  // is drawn over it (the ray ends there); MIP and iso-surfaces have no translucency to see through, so there
  // the plane cuts the volume open: the ray is left to the plane (drawn before the volume), never hidden
  for (int a = 0; a < 3; a++) {
    if (planeOn[a] > 0.5 && abs(d[a]) > 1e-6) {
      float tp = (planes[a] - vOrigin[a]) / d[a];
      if (tp > t0 && tp < t1) {
        if (mode != 2) discard;
        t1 = tp;
      }
    }
  }
  if (t1 <= t0) discard;
  // one sample per LOD voxel along the ray's longest axis, times stepRatio
  vec3 dv = abs(d) * size;
  float dt = stepRatio / max(max(dv.x, dv.y), dv.z);
  float span = max(vmax - vmin, 1e-6);
  float jitter = fract(sin(dot(gl_FragCoord.xy, vec2(12.9898, 78.233))) * 43758.5453);
  float t = t0 + dt * jitter;
  if (mode == 0) {
    float m = -1e9;
    for (int i = 0; i < 4096; i++) {
      if (t > t1) break;
      m = max(m, sampleAt(vOrigin + d * t));
      t += dt;
    }
    float n = (m - vmin) / span;
    if (n <= 0.0) discard;
    vec4 c = cmap(n);
    float a = clamp(n, 0.0, 1.0) * opacity;
    a = min(1.0, a * 2.0);
    outColor = vec4(c.rgb * a, a);
  } else if (mode == 1) {
    float prev = sampleAt(vOrigin + d * t);
    float tPrev = t;
    for (int i = 0; i < 4096; i++) {
      t += dt;
      if (t > t1) break;
      float v = sampleAt(vOrigin + d * t);
      if (v >= threshold && prev < threshold) {
        float lo = tPrev, hi = t;
        for (int k = 0; k < 6; k++) {
          float mid = 0.5 * (lo + hi);
          if (sampleAt(vOrigin + d * mid) >= threshold) hi = mid; else lo = mid;
        }
        vec3 p = vOrigin + d * hi;
        vec3 nrm = normalAt(p);
        if (dot(nrm, d) > 0.0) nrm = -nrm;
        float diffuse = max(dot(nrm, -d), 0.0);
        float spec = pow(max(dot(nrm, -d), 0.0), 40.0);
        vec3 base = cmap((threshold - vmin) / span).rgb;
        outColor = vec4(base * (0.25 + 0.75 * diffuse) + vec3(0.3 * spec), 1.0);
        return;
      }
      prev = v;
      tPrev = t;
    }
    discard;
  } else {
    vec4 acc = vec4(0.0);
    for (int i = 0; i < 4096; i++) {
      if (t > t1 || acc.a > 0.99) break;
      float n = (sampleAt(vOrigin + d * t) - vmin) / span;
      float a = opacity * clamp(n, 0.0, 1.0);
      a = 1.0 - pow(1.0 - a, stepRatio);
      if (a > 0.0) acc += (1.0 - acc.a) * vec4(cmap(n).rgb * a, a);
      t += dt;
    }
    if (acc.a <= 0.0) discard;
    outColor = acc;
  }
}`;

export const PLANE_VERTEX = /* glsl */ `
out vec2 vUv;
void main() {
  vUv = uv;
  gl_Position = projectionMatrix * modelViewMatrix * vec4(position, 1.0);
}`;

/** A full-resolution slice (R32F, nearest) through the colormap; NaN is drawn black. */
export const PLANE_FRAGMENT = /* glsl */ `
precision highp float;
in vec2 vUv;
out vec4 outColor;
uniform sampler2D image;
uniform sampler2D lut;
uniform float vmin;   // data values
uniform float vmax;
void main() {
  float v = texture(image, vUv).r;
  if (v != v) { outColor = vec4(0.0, 0.0, 0.0, 1.0); return; }
  float t = clamp((v - vmin) / max(vmax - vmin, 1e-30), 0.0, 1.0);
  outColor = texture(lut, vec2((t * 255.0 + 0.5) / 256.0, 0.5));
}`;
