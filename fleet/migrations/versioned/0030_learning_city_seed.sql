-- The learning-city programme tables, seeded from the city's published figures
-- (/work/shared/FACTS.md: "Benguerir learning city: the facts the software serves").
-- Values the city states as "more than N" carry qualifier 'more than'. Where the city publishes
-- no figure (cultural centre, community learning spaces) the table exists, empty, for the city
-- to fill through the service. A re-run finds the rows and changes nothing.

INSERT INTO programmes (programme_id, name, description, sort) VALUES
  ('pogo', 'POGO electric-vehicle project (as reported by the city)',
   'Shared electric motorcycles in Benguerir: the figures the city reported. The live table '
   'measured from the fleet''s telemetry is shown beside it.', 10),
  ('youth-platform', 'Rhamna Youth Platform',
   'Three programmes: capacity building for young graduates, capacity building for project '
   'leaders, socio-cultural animation.', 20),
  ('second-chance-school', 'Second-Chance School',
   'Reintegration of school dropouts; vocational fields include electricity, culinary arts '
   'and sewing.', 30),
  ('inclusive-education', 'Inclusive education',
   'A specialised centre, with the commune of Benguerir and the province of Rhamna, for '
   'non-verbal children and children with learning difficulties.', 40),
  ('cultural-centre', 'Cultural centre',
   'Plays, musical performances, chess competitions, conferences. Event counts are not '
   'published: the table is for the city to fill.', 50),
  ('community-spaces', 'Community learning spaces',
   'With the Compass Association and the province: multifunctional spaces including a garden '
   'with a library kiosk and an animation area. No figures published yet.', 60),
  ('rhamna-educatec', 'Rhamna-Educatec',
   'A smart classroom for tutoring, guidance, counselling and training at a distance, '
   'broadcasting live and recorded sessions to the province''s connected preparatory and '
   'secondary schools.', 70)
ON CONFLICT (programme_id) DO NOTHING;

INSERT INTO programme_indicators
  (programme_id, indicator_id, label, value, qualifier, unit, period, source, sort)
VALUES
  ('pogo', 'people', 'People who used the electric motorcycles', 15000, 'more than', 'people',
   'two years', 'City of Benguerir, learning-city report (POGO project)', 10),
  ('pogo', 'km', 'Kilometres travelled', 600000, NULL, 'km',
   'two years', 'City of Benguerir, learning-city report (POGO project)', 20),
  ('pogo', 'trips', 'Trips', 130000, NULL, 'trips',
   'two years', 'City of Benguerir, learning-city report (POGO project)', 30),
  ('pogo', 'co2-avoided', 'CO2 emissions avoided', 90, NULL, 't CO2',
   'two years', 'City of Benguerir, learning-city report (POGO project)', 40),

  ('youth-platform', 'young-people', 'Young people trained and supported', 1000, 'more than',
   'people', 'not published', 'City of Benguerir, learning-city report (Rhamna Youth Platform)', 10),
  ('youth-platform', 'trainers', 'Trainers', 45, NULL,
   'people', 'not published', 'City of Benguerir, learning-city report (Rhamna Youth Platform)', 20),
  ('youth-platform', 'organisations', 'Organisations mobilised', 41, NULL,
   'organisations', 'not published',
   'City of Benguerir, learning-city report (Rhamna Youth Platform)', 30),
  ('youth-platform', 'workshops', 'Training workshops', 600, 'more than',
   'workshops', 'not published',
   'City of Benguerir, learning-city report (Rhamna Youth Platform)', 40),
  ('youth-platform', 'boot-camps', 'Boot camps (leadership, entrepreneurship, creativity)', 250,
   NULL, 'boot camps', 'not published',
   'City of Benguerir, learning-city report (Rhamna Youth Platform)', 50),

  ('second-chance-school', 'centres', 'Centres', 3, NULL, 'centres', 'not published',
   'City of Benguerir, learning-city report (Second-Chance School)', 10),
  ('second-chance-school', 'students', 'Students', 359, NULL, 'students', 'not published',
   'City of Benguerir, learning-city report (Second-Chance School)', 20),
  ('second-chance-school', 'supervisors', 'Supervisors', 19, NULL, 'people', 'not published',
   'City of Benguerir, learning-city report (Second-Chance School)', 30),

  ('inclusive-education', 'integration-rate',
   'Integration rate of non-verbal children in state schools', 100, NULL, '%', 'not published',
   'City of Benguerir, learning-city report (inclusive education centre)', 10),

  ('rhamna-educatec', 'smart-classrooms', 'Smart classrooms', 1, NULL, 'classrooms',
   'since 2019', 'City of Benguerir, learning-city report (Rhamna-Educatec)', 10)
ON CONFLICT (programme_id, indicator_id) DO NOTHING;
