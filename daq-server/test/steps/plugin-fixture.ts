/** A step plugin module (default export: factories) so receiver workers can load these steps in tests. */
import { STEP_FACTORIES as LEGACY } from '../../src/processing/steps/index.js';
import { STEP_FACTORIES as JUNGFRAU } from '../../src/processing/jungfrau/index.js';
import { builtinSteps } from '../../src/processing/builtin.js';

const builtin = new Set(builtinSteps().map((f) => f.name));
// steps already built in (once the server registers them) are not registered twice
export default [...Object.values(LEGACY), ...Object.values(JUNGFRAU)].filter((f) => !builtin.has(f.name));
