import { z } from 'zod';

/** The address book's base path (kapi/grapi's `apiPrefix`). */
export const addressBookPrefix = '/api/gc/v1';

/** A user as the address book shows it (Microsoft Graph's names, as grapi has them). */
export const addressBookUserSchema = z.object({
  id: z.string(),
  displayName: z.string(),
  mail: z.string(),
  userPrincipalName: z.string(),
  jobTitle: z.string(),
});
export type AddressBookUser = z.infer<typeof addressBookUserSchema>;

export const addressBookFields = addressBookUserSchema.keyof().options;
export type AddressBookField = (typeof addressBookFields)[number];

const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,7}$/, 'expected a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

/** Query of `GET /users`: OData-style parameters; anything else is refused. */
export const addressBookQuerySchema = z.strictObject({
  $search: z.string().max(256).optional(),
  $top: integer(1, 1000).default(100),
  $skip: integer(0, 1_000_000).default(0),
  $select: z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((f) => f.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.enum(addressBookFields)).min(1))
    .optional(),
});
export type AddressBookQuery = z.output<typeof addressBookQuerySchema>;

/** `GET /users` answers `{"value": [...]}` (fields limited by `$select`). */
export interface AddressBookList {
  value: Partial<AddressBookUser>[];
}
