// A typed front-end against Updog, from types generated from the committed openapi.yaml
// (`npm run generate`). CI type-checks it (`npm run check`): if the API changes shape, this fails to
// compile. Run in a browser on an origin listed in UPDOG_CORS_ORIGINS.
import type { components, paths } from "./generated/updog";

type Schemas = components["schemas"];
type Lot = Schemas["Lot"];
type CreateLot = Schemas["CreateLot"];
type FundMoic = Schemas["FundMoic"];
type Problem = Schemas["Problem"];

type LotsPath = paths["/api/v1/funds/{fund_id}/investments/{investment_id}/lots"];
type CreatedLot = LotsPath["post"]["responses"][201]["content"]["application/json"];

export interface Api {
  base: string;
  key: string;
}

/** A created lot, with what the browser may read of the answer thanks to CORS's exposed headers. */
export interface Created<T> {
  body: T;
  location: string | null;
  etag: string | null;
  replayed: boolean;
}

async function problemOf(response: Response): Promise<Error> {
  const problem = (await response.json()) as Problem;
  return new Error(`${problem.status} ${problem.code}: ${problem.detail}`);
}

/** Records a purchase lot; the idempotency key makes a retry after a network error safe. */
export async function createLot(
  api: Api,
  fundId: number,
  investmentId: number,
  lot: CreateLot,
  idempotencyKey: string,
): Promise<Created<CreatedLot>> {
  const response = await fetch(`${api.base}/api/v1/funds/${fundId}/investments/${investmentId}/lots`, {
    method: "POST",
    headers: {
      Authorization: `Bearer ${api.key}`,
      "Content-Type": "application/json",
      "Idempotency-Key": idempotencyKey,
    },
    body: JSON.stringify(lot),
  });
  if (!response.ok) throw await problemOf(response);
  return {
    body: (await response.json()) as CreatedLot,
    location: response.headers.get("Location"),
    etag: response.headers.get("ETag"),
    replayed: response.headers.get("Idempotent-Replayed") === "true",
  };
}

/** The fund's MOIC, typed down to each lot. */
export async function fundMoic(api: Api, fundId: number): Promise<FundMoic> {
  const response = await fetch(`${api.base}/api/v1/funds/${fundId}/moic`, {
    headers: { Authorization: `Bearer ${api.key}` },
  });
  if (!response.ok) throw await problemOf(response);
  return (await response.json()) as FundMoic;
}

/** The best current MOIC among the fund's companies, as a label. */
export function bestCompany(moic: FundMoic): string {
  let best: { name: string; moic: number } | undefined;
  for (const company of moic.companies) {
    // Exact decimals are strings on the wire (SPEC §2); parse only for display.
    const value = company.current_moic === null || company.current_moic === undefined ? NaN : Number(company.current_moic);
    if (!Number.isNaN(value) && (best === undefined || value > best.moic)) {
      best = { name: company.name, moic: value };
    }
  }
  return best ? `${best.name}: ${best.moic.toFixed(2)}x` : "no company has a mark yet";
}

// The generated types are precise: these lines must type-check, and the marked ones must not.
const lot: CreateLot = {
  lot_type: "follow_on",
  share_price_cents: 250,
  shares_acquired: "1000.5",
  acquired_on: "2026-01-15",
};
// @ts-expect-error: an unknown lot type is not a LotType
const wrongType: CreateLot = { ...lot, lot_type: "gift" };
// @ts-expect-error: shares are decimal strings, not numbers
const wrongShares: CreateLot = { ...lot, shares_acquired: 1000.5 };
export const examples: Array<CreateLot | Lot> = [lot, wrongType, wrongShares];
