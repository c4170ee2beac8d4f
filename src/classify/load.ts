/**
 * A classifier from its parsed JSON (browser-safe: the caller fetched or read the bytes), checked like the
 * file loader of platform/classifier.ts: the format, and the feature list the model reads by position.
 */
import { InputError } from '../errors.ts';
import { FEATURE_NAMES } from './features.ts';
import { parseClassifier, type ClassifierJSON } from './model.ts';

/** Parses and checks a classifier; `what` names it in error messages (a path or an address). */
export function classifierFromJson(json: unknown, what = 'classifier'): ClassifierJSON {
  const model = parseClassifier(json, what);
  // The model reads features by position: one trained on another feature list would classify silently wrong.
  const i = FEATURE_NAMES.findIndex((name, k) => model.features[k] !== name);
  if (i >= 0 || model.features.length !== FEATURE_NAMES.length) {
    const at = i >= 0 ? i : FEATURE_NAMES.length;
    throw new InputError(what, `expected the ${FEATURE_NAMES.length} features of src/classify/features.ts, got ${model.features.length} (feature ${at}: expected ${JSON.stringify(FEATURE_NAMES[at] ?? null)}, got ${JSON.stringify(model.features[at] ?? null)})`);
  }
  return model;
}
