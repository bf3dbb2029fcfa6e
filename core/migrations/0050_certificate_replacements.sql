-- Replacement after issue (`replace-certificate`): a new NOPIC replaces an issued one whose data changed,
-- the old one is cancelled in OID. Each row names the NOPIC it replaces and the one that replaced it.
ALTER TABLE certificates ADD COLUMN replaces text;
ALTER TABLE certificates ADD COLUMN replaced_by text;
-- The replacements still to be issued (in manual mode, staff's task in the Issuing queue).
CREATE INDEX certificates_replacements_to_issue ON certificates (request_id)
    WHERE status = 'pending' AND replaces IS NOT NULL;
