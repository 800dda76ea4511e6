/**
 * The sales_daily DAG's test datasets, generated deterministically (a seeded PRNG): sales
 * (CSV), customers (JSON array) and products (CSV) of one week of orders, with faults
 * planted in known numbers so that cleaning and the checks have something real to find.
 * `manifest.json` beside the files says how many of each were planted.
 *
 *   node --import tsx runtime/dev/sales-data.ts small|medium|large [folder] [--orders N]
 *
 * small and medium are shipped in data/sales/; large (about 5,000 rows per file) is
 * generated when first used, and `--orders 1000000` makes the benchmark's.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { prng } from './prng.ts';

export const SALES_SIZES = { small: 20, medium: 100, large: 5000 } as const;
export type SalesSize = keyof typeof SALES_SIZES;

/** The last day of every dataset's week of orders. */
export const SALES_LAST_DAY = '2024-06-30';
export const SALES_DAYS = ['2024-06-24', '2024-06-25', '2024-06-26', '2024-06-27', '2024-06-28', '2024-06-29', '2024-06-30'] as const;
export const CHANNELS = ['web', 'store', 'phone', 'marketplace'] as const;
const SEGMENTS = ['consumer', 'corporate', 'small_business'] as const;
const COUNTRIES = ['EC', 'US', 'DE', 'ES', 'MX', 'FR'] as const;
const CATEGORIES = ['Electronics', 'Home', 'Garden', 'Toys', 'Books', 'Sports'] as const;

/** What was planted, as the DAG's stages should find it. */
export interface SalesManifest {
  size: string;
  seed: number;
  files: { sales: number; customers: number; products: number };
  planted: {
    /** Sales lines that repeat an earlier line exactly (clean removes them). */
    duplicateOrders: number;
    /** Sales with an empty customer_id (clean rejects them). */
    nullCustomerIds: number;
    /** Sales with quantity <= 0 (clean rejects them). */
    negativeQuantities: number;
    /** Sales whose product_id is in no products row (kept; the referential check finds them). */
    unknownProductIds: number;
    /** Sales whose order_date is not a date (ingest rejects them). */
    malformedDates: number;
    /** Sales with an empty discount (clean sets 0). */
    nullDiscounts: number;
    /** Customers whose email is not an email (clean sets it to null; a warn check counts them). */
    invalidEmails: number;
    /** Customers repeated with the same id (clean keeps the first). */
    duplicateCustomers: number;
    /** Products repeated with the same id (clean keeps the first). */
    duplicateProducts: number;
  };
}

const atLeastOne = (n: number, share: number) => Math.max(1, Math.round(n * share));
const pad = (n: number, width: number) => String(n).padStart(width, '0');
const csvLine = (fields: readonly (string | number)[]) => fields.map((f) => {
  const s = String(f);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}).join(',');

const FIRST = ['Ana', 'Luis', 'Marta', 'José', 'Chen', 'Aisha', "O'Neil", 'Sofía', 'Jonas', 'Priya', 'Mateo', 'Elena'];
const LAST = ['García', 'Smith', 'Müller', 'Zambrano', 'Okafor', 'Rossi', 'Kim', 'Andrade', 'Dubois', 'Novak'];
const NOUNS = ['Lamp', 'Kettle', 'Drone', 'Puzzle', 'Novel', 'Racket', 'Hose', 'Chair', 'Speaker', 'Blocks', 'Atlas', 'Ball'];

/**
 * Write the dataset into `folder`: sales.csv, customers.json, products.csv, manifest.json.
 * `orders` sales lines before duplicates; customers and products scale with it.
 */
export function generateSales(folder: string, options: { size: string; orders: number; seed?: number }): SalesManifest {
  const seed = options.seed ?? 20240630;
  const rand = prng(seed + options.orders);
  const pick = <T>(list: readonly T[]) => list[Math.floor(rand() * list.length)]!;
  const orders = options.orders;
  const nCustomers = Math.max(20, Math.min(orders, 50_000));
  const nProducts = Math.max(20, Math.min(orders, 5_000));
  const prefix = options.size.slice(0, 1).toUpperCase();
  fs.mkdirSync(folder, { recursive: true });

  // Products: ids P0001…, one repeated at the end.
  const products: { id: string; line: string }[] = [];
  for (let i = 1; i <= nProducts; i++) {
    const price = Math.round((5 + rand() * 495) * 100) / 100;
    const cost = Math.round(price * (0.4 + rand() * 0.4) * 100) / 100;
    const id = `P${pad(i, 5)}`;
    products.push({ id, line: csvLine([id, `${pick(NOUNS)} ${i}`, pick(CATEGORIES), cost.toFixed(2), price.toFixed(2)]) });
  }
  const duplicateProducts = 1;
  const productLines = [...products.map((p) => p.line), products[0]!.line.replace(/,[^,]*,/, `,${'Renamed copy'},`)];
  fs.writeFileSync(path.join(folder, 'products.csv'), ['product_id,name,category,cost,price', ...productLines].join('\n') + '\n');

  // Customers: ids C000001…, some with a broken email, one repeated.
  const invalidEmails = atLeastOne(nCustomers, 0.03);
  const customers: Record<string, unknown>[] = [];
  for (let i = 1; i <= nCustomers; i++) {
    const first = pick(FIRST);
    const last = pick(LAST);
    const email = i <= invalidEmails ? `${first.toLowerCase()}.at.example.com` : `${first}.${last}.${i}@Example.com`.normalize('NFD').replace(/[^A-Za-z0-9.@]/g, '');
    const day = 1 + Math.floor(rand() * 28);
    customers.push({ customer_id: `C${pad(i, 6)}`, name: `  ${first} ${last} `, email, segment: pick(SEGMENTS), country: pick(COUNTRIES), signup_date: `2023-${pad(1 + Math.floor(rand() * 12), 2)}-${pad(day, 2)}` });
  }
  const duplicateCustomers = 1;
  customers.push({ ...customers[nCustomers - 1]!, name: 'Later duplicate' });
  fs.writeFileSync(path.join(folder, 'customers.json'), `[\n${customers.map((c) => JSON.stringify(c)).join(',\n')}\n]\n`);

  // Sales: each faulty line has exactly one fault; duplicates copy good lines.
  const nullCustomerIds = atLeastOne(orders, 0.03);
  const negativeQuantities = atLeastOne(orders, 0.03);
  const unknownProductIds = atLeastOne(orders, 0.02);
  const malformedDates = atLeastOne(orders, 0.02);
  const nullDiscounts = atLeastOne(orders, 0.04);
  const faults: string[] = [
    ...Array<string>(nullCustomerIds).fill('null_customer'),
    ...Array<string>(negativeQuantities).fill('negative_quantity'),
    ...Array<string>(unknownProductIds).fill('unknown_product'),
    ...Array<string>(malformedDates).fill('malformed_date'),
    ...Array<string>(nullDiscounts).fill('null_discount'),
  ];
  const kinds: string[] = Array<string>(orders).fill('good');
  // Spread the faults over the file, deterministically (Fisher–Yates over positions).
  const positions = Array.from({ length: orders }, (_, i) => i);
  for (let i = positions.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [positions[i], positions[j]] = [positions[j]!, positions[i]!];
  }
  faults.forEach((f, i) => (kinds[positions[i]!] = f));
  const badDates = ['2024-06-31', '30/06/2024', '2024-13-01', 'yesterday'];
  const lines: string[] = [];
  const good: number[] = [];
  for (let i = 0; i < orders; i++) {
    const kind = kinds[i]!;
    const day = pick(SALES_DAYS);
    const customer = `C${pad(1 + Math.floor(rand() * nCustomers), 6)}`;
    const product = products[Math.floor(rand() * nProducts)]!.id;
    const quantity = 1 + Math.floor(rand() * 5);
    const price = (Math.round((5 + rand() * 495) * 100) / 100).toFixed(2);
    const discount = pick(['0', '0', '0.05', '0.1', '0.15', '0.2']);
    lines.push(csvLine([
      `SO-${prefix}${pad(i + 1, 7)}`,
      kind === 'malformed_date' ? pick(badDates) : day,
      kind === 'null_customer' ? '' : customer,
      kind === 'unknown_product' ? `P9${pad(i, 5)}` : product,
      kind === 'negative_quantity' ? -quantity : quantity,
      price,
      kind === 'null_discount' ? '' : discount,
      pick(CHANNELS),
    ]));
    if (kind === 'good') good.push(i);
  }
  // Each duplicate repeats a good line a little after it, as a re-sent record would.
  const duplicateOrders = Math.min(good.length, atLeastOne(orders, 0.05));
  const after = new Map<number, string[]>();
  for (let i = 0; i < duplicateOrders; i++) {
    const original = good[Math.floor((i * good.length) / duplicateOrders)]!;
    const at = Math.min(original + Math.floor(rand() * 3), orders - 1);
    after.set(at, [...(after.get(at) ?? []), lines[original]!]);
  }
  const output: string[] = [];
  lines.forEach((line, i) => output.push(line, ...(after.get(i) ?? [])));
  const header = 'order_id,order_date,customer_id,product_id,quantity,unit_price,discount,channel';
  const fd = fs.openSync(path.join(folder, 'sales.csv'), 'w');
  fs.writeSync(fd, header + '\n');
  for (let i = 0; i < output.length; i += 10_000) fs.writeSync(fd, output.slice(i, i + 10_000).join('\n') + '\n');
  fs.closeSync(fd);

  const manifest: SalesManifest = {
    size: options.size,
    seed,
    files: { sales: output.length, customers: customers.length, products: productLines.length },
    planted: { duplicateOrders, nullCustomerIds, negativeQuantities, unknownProductIds, malformedDates, nullDiscounts, invalidEmails, duplicateCustomers, duplicateProducts },
  };
  fs.writeFileSync(path.join(folder, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

/** The folder of a named dataset in this checkout. */
export const SALES_DATA_DIR = fileURLToPath(new URL('../../data/sales/', import.meta.url));

/** A named dataset's folder, generated first if it is not there (large is not shipped). */
export function salesDataset(size: SalesSize): string {
  const folder = path.join(SALES_DATA_DIR, size);
  if (!fs.existsSync(path.join(folder, 'manifest.json'))) generateSales(folder, { size, orders: SALES_SIZES[size] });
  return folder;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const [size, folderArg] = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && all[i - 1] !== '--orders');
  const ordersFlag = process.argv.indexOf('--orders');
  if (!size) {
    process.stderr.write('usage: sales-data.ts small|medium|large|NAME [folder] [--orders N]\n');
    process.exit(2);
  }
  const orders = ordersFlag > 0 ? Number(process.argv[ordersFlag + 1]) : SALES_SIZES[size as SalesSize];
  if (!Number.isSafeInteger(orders) || orders < 20) {
    process.stderr.write('--orders must be a whole number of at least 20 (or give small, medium or large)\n');
    process.exit(2);
  }
  const folder = folderArg ?? path.join(SALES_DATA_DIR, size);
  const manifest = generateSales(folder, { size, orders });
  process.stdout.write(`${folder}: ${JSON.stringify(manifest.files)}\n`);
}
