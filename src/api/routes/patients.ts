import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { PURPOSES, type PurposeOfUse } from '../../contracts/consent/index.js';
import { MAX_SEARCH_RESULTS, type PatientDirectory } from '../../records/patient-directory.js';
import { handled } from '../errors.js';
import { errorResponses } from '../schemas.js';
import { signedUser } from '../user-auth.js';

/**
 * Clinician patient search (signed). A POST, so the name never appears in the URL — the signed request is kept on
 * the ledger with each access entry the search makes, and only its body hash goes there; `salt` (random, 16–64
 * characters) stops that hash being matched to a name by guessing.
 */

const PatientId = Type.String({ pattern: '^P[A-Z2-7]{26}$', description: 'consortium patient id' });

export const PatientSearchBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 50, description: 'a name or part of one (Chinese characters or pinyin; case and spaces ignored)' })),
    patientId: Type.Optional(PatientId),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_SEARCH_RESULTS, description: 'default 20' })),
    purpose: Type.Optional(Type.Union(PURPOSES.map((p) => Type.Literal(p)), { description: 'purpose of use of the demographics read (default TREAT)' })),
    salt: Type.String({ pattern: '^[A-Za-z0-9_-]{16,64}$', description: 'random characters, so the body hash recorded on the ledger cannot be guessed from a name' }),
  },
  { additionalProperties: false, $id: 'PatientSearch' },
);

export const PatientSearchResult = Type.Object(
  {
    institution: Type.String(),
    results: Type.Array(
      Type.Object({
        patientId: PatientId,
        name: Type.Optional(Type.String({ description: 'legal name, from the consented copy of the Patient resource' })),
        nameEn: Type.Optional(Type.String({ description: 'Latin-script (pinyin) name, when recorded' })),
        gender: Type.Optional(Type.String()),
        birthYear: Type.Optional(Type.Integer()),
        registeredHere: Type.Boolean(),
        institutions: Type.Array(Type.Object({ id: Type.String(), name: Type.String() }), { description: 'where the patient is registered (ledger)' }),
        access: Type.Optional(Type.String({ description: 'the access tx that logged this read' })),
      }),
    ),
  },
  { $id: 'PatientSearchResult' },
);

export function patientRoutes(app: FastifyInstance, directory: PatientDirectory): void {

  app.post(
    '/v1/institutions/:id/patients/search',
    {
      schema: {
        tags: ['records'],
        summary: "Staff find patients registered at their institution by (part of) a name or by patient id; each patient returned is a consent-checked, logged read of the institution's Patient resource",
        params: Type.Object({ id: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{1,63}$' }) }),
        body: PatientSearchBody,
        response: { 200: PatientSearchResult, ...errorResponses },
      },
    },
    handled(async (request) => {
      const user = signedUser(request);
      const { id } = request.params as { id: string };
      const body = request.body as { name?: string; patientId?: string; limit?: number; purpose?: PurposeOfUse };
      return directory.search(user, id, body);
    }),
  );
}
