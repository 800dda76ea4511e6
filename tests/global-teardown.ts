/** The embedded server is shared with every weir command in this folder, so it stays up. */
export default async function globalTeardown(): Promise<void> {}
