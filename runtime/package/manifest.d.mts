export const WEIR_ROOT: string;
export const PACKAGE_NAME: string;
export const WEIR_VERSION: string;
export const PUBLIC_SPECIFIERS: ReadonlyArray<readonly [string, string]>;
