/** How an input is cut into records, as SageMaker's TransformInput.SplitType names it. */
export const SPLIT_TYPES = ['Line', 'RecordIO', 'TFRecord', 'None'] as const;
export type SplitType = (typeof SPLIT_TYPES)[number];
