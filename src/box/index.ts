/** The box registry library: inspection, the directory store, the HTTP server and publish. */
export { inspectBox, BoxInspector, type BoxInfo, type BoxMetadata } from "./inspect.js";
export { type Catalog, type CatalogProvider, type CatalogVersion, type PendingProvider, type VersionStatus, parseCatalog, vagrantCatalog, versionStatus } from "./catalog.js";
export type { BoxBackend, BoxDownload, BoxFields, LocalDownload, RedirectDownload, VersionChange } from "./backend.js";
export { BoxStore, ConflictError, CorruptCatalogError, NoSpaceError, NotFoundError, OutsideRootError, UploadTooLargeError, type Progress, type PublishRequest, type PublishResult } from "./store.js";
export { fsckRegistry, type Finding, type FindingKind, type FsckReport } from "./fsck.js";
export { startRegistryServer, DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MAX_UPLOAD_BYTES, type RegistryServer, type RegistryServerOptions } from "./server.js";
export { loadAccessConfig, AccessRules, type Access, type AccessConfig, type ScopedToken, type TokenHolder } from "./tokens.js";
export { HttpRegistry, type HttpRegistryOptions } from "./http-registry.js";
export { publishBox, listRegistry, removeFromRegistry, setReleaseState, type PublishBoxOptions } from "./publish.js";
export * from "./names.js";
