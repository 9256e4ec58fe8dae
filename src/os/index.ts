export { alpineMirrorOf, archOf, osFamily, type Login, type OsFamily, type OsPin } from "./family.js";
export type { InstallSource } from "./install-source.js";
