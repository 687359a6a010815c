// Preloaded into the server under benchmark: V8 prints a line per garbage collection (gcTrace.ts).
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--trace-gc-nvp');
