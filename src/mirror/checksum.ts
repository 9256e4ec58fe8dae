import { createHash, type Hash } from "node:crypto";

/**
 * The checksum types a Vagrant catalog may name (Vagrant's Util::FileChecksum and the HCP API's
 * provider `checksum_type`: md5, sha1, sha256, sha384, sha512), with the hex length of each, so
 * a checksum that cannot be one of its type is refused before anything is downloaded.
 */
const HEX_LENGTH = { md5: 32, sha1: 40, sha256: 64, sha384: 96, sha512: 128 } as const;
export type ChecksumType = keyof typeof HEX_LENGTH;
export const CHECKSUM_TYPES = Object.keys(HEX_LENGTH) as ChecksumType[];

export interface SourceChecksum {
  readonly type: ChecksumType;
  /** Lowercase hex. */
  readonly value: string;
}

/** The checksum a catalog entry declares, or a reason it cannot be used. */
export function parseSourceChecksum(type: unknown, value: unknown): SourceChecksum | { problem: string } {
  if (value === undefined || value === null || value === "") return { problem: "the source gives no checksum for it (nothing to verify the bytes against)" };
  if (typeof value !== "string") return { problem: "its checksum is not a string" };
  const t = typeof type === "string" ? type.toLowerCase() : type;
  if (typeof t !== "string" || !Object.hasOwn(HEX_LENGTH, t)) {
    return { problem: `its checksum_type ${JSON.stringify(type)} is not one of ${CHECKSUM_TYPES.join(", ")}` };
  }
  const hex = value.trim().toLowerCase();
  const want = HEX_LENGTH[t as ChecksumType];
  if (!new RegExp(`^[0-9a-f]{${want}}$`).test(hex)) return { problem: `its ${t} checksum is not ${want} hex digits` };
  return { type: t as ChecksumType, value: hex };
}

export function newHash(type: ChecksumType): Hash {
  return createHash(type);
}
