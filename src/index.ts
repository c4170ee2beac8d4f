/**
 * emopia-ts: the public API for Node. It is the browser API (`./browser.ts`: the Transformer, the tokenizer, the
 * CP model, training steps, generation, the classifier) plus the helpers that read and write files: dataset
 * folders, run folders and checkpoints, training runs, the shipped classifier. The CLI's public pieces and the
 * tests of the public API import from here.
 */
export * from './browser.ts';
export { readDataset, buildDataset, listMidiFiles, type DatasetBuildOptions } from './platform/dataset.ts';
export { saveModel, loadModel, readModelMeta, readGenerationDefaults, saveRun, loadRun, lockRun, type SaveModelOptions } from './platform/run_folder.ts';
export { runTraining, type RunOptions, type RunResult, type TrainProgress } from './platform/train_run.ts';
export { loadClassifier, DEFAULT_CLASSIFIER_DIR, CLASSIFIER_FILE } from './platform/classifier.ts';
export { DEFAULT_MODEL_DIR } from './platform/default_model.ts';
