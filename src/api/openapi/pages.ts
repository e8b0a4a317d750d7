import type { OpenAPIRegistry, ResponseConfig } from '@asteasolutions/zod-to-openapi';
import { headers, jsonResponse, problemResponse, security } from './common';
import { z } from 'zod';

/** What a browser loads: the checkout page, the account page, and this document with its reader (routes/page.ts, routes/docs.ts). */

export const DOCS_ASSET_FILES = ['swagger-ui.css', 'swagger-ui-bundle.js'] as const;

const htmlPage = (description: string): ResponseConfig => ({ description, headers: headers(), content: { 'text/html': { schema: z.string() } } });

export function describePages(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'get',
    path: '/',
    operationId: 'getCheckoutPage',
    tags: ['pages'],
    summary: 'The checkout page',
    security: security.none,
    responses: { 200: htmlPage('The checkout page (plain HTML; its script and styles under /assets)') },
  });

  registry.registerPath({
    method: 'get',
    path: '/app',
    operationId: 'getAccountPage',
    tags: ['pages'],
    summary: 'The account page a sign-in link lands on',
    security: security.none,
    responses: { 200: htmlPage('The account page; it reads `GET /api/me` with the session cookie') },
  });

  registry.registerPath({
    method: 'get',
    path: '/openapi.json',
    operationId: 'getApiDocument',
    tags: ['pages'],
    summary: 'This document',
    description: 'OpenAPI 3.1, generated when the API starts from the zod schemas it validates with.',
    security: security.none,
    responses: {
      200: jsonResponse('The OpenAPI 3.1 description of this API', z.looseObject({ openapi: z.string().regex(/^3\.1\.\d+$/), info: z.looseObject({}), paths: z.looseObject({}) })),
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/docs',
    operationId: 'getApiReference',
    tags: ['pages'],
    summary: 'This document, to read in a browser',
    description: 'Swagger UI, served from this API (no CDN), reading `/openapi.json`.',
    security: security.none,
    responses: { 200: htmlPage('The API reference page') },
  });

  registry.registerPath({
    method: 'get',
    path: '/docs/assets/{file}',
    operationId: 'getApiReferenceAsset',
    tags: ['pages'],
    summary: 'A file of the API reference page',
    security: security.none,
    request: { params: z.object({ file: z.enum(DOCS_ASSET_FILES).meta({ param: { description: 'A file of swagger-ui-dist; nothing else of the package is served.' } }) }) },
    responses: {
      200: {
        description: 'The file',
        headers: headers(),
        content: { 'text/css': { schema: z.string() }, 'text/javascript': { schema: z.string() } },
      },
      400: problemResponse(400, 'The path is not validly percent-encoded', ['bad-request']),
      404: problemResponse(404, 'Not one of these files', ['not-found']),
    },
  });
}
